/**
 * The per-resource policy's rows (issue 18): a mode per resource (no row =
 * allow, today's behaviour) and the programs approved for it, each until a
 * time or until revoked. Read whole into memory by daemon/serve/policy.ts,
 * which consults it on every token request; written only by `policy` methods
 * and approvals given when asked.
 */
import type Database from 'better-sqlite3';
import type { PolicyMode, ProgramApproval, ResourcePolicy } from '../../shared/protocol/audit-policy-types.js';

export interface PolicyRow extends ResourcePolicy {
  resourceKey: string;
}

interface ModeRow {
  resource_key: string;
  resource: string;
  mode: PolicyMode;
}

interface ApprovalRow {
  resource_key: string;
  program: string;
  expires_at: number | null;
  source: 'cli' | 'prompt';
  created_at: number;
}

export class PolicyTable {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Every resource with a mode or an approval; approvals' times in Unix ms here (the wire shows seconds). */
  all(): PolicyRow[] {
    const modes = this.#db.prepare('SELECT resource_key, resource, mode FROM resource_policies').all() as ModeRow[];
    const approvals = this.#db.prepare('SELECT resource_key, program, expires_at, source, created_at FROM program_approvals ORDER BY created_at').all() as ApprovalRow[];
    const byKey = new Map<string, PolicyRow>();
    for (const m of modes) byKey.set(m.resource_key, { resourceKey: m.resource_key, resource: m.resource, mode: m.mode, approvals: [] });
    for (const a of approvals) {
      const row = byKey.get(a.resource_key);
      const approval: ProgramApproval = { program: a.program, expires_at: a.expires_at, source: a.source, created_at: a.created_at };
      if (row === undefined) byKey.set(a.resource_key, { resourceKey: a.resource_key, resource: a.resource_key, mode: 'allow', approvals: [approval] });
      else row.approvals.push(approval);
    }
    return [...byKey.values()].sort((a, b) => a.resource.localeCompare(b.resource));
  }

  setMode(resourceKey: string, resource: string, mode: PolicyMode, now: number): void {
    this.#db
      .prepare(
        `INSERT INTO resource_policies (resource_key, resource, mode, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (resource_key) DO UPDATE SET resource = excluded.resource, mode = excluded.mode, updated_at = excluded.updated_at`,
      )
      .run(resourceKey, resource, mode, now);
  }

  /** Approves a program (replacing an earlier approval of it); the resource row is created as `allow` if missing, so its name is kept. */
  approve(resourceKey: string, resource: string, program: string, expiresAt: number | null, source: 'cli' | 'prompt', now: number): void {
    this.#db.transaction(() => {
      this.#db.prepare('INSERT INTO resource_policies (resource_key, resource, mode, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (resource_key) DO NOTHING').run(resourceKey, resource, 'allow', now);
      this.#db
        .prepare(
          `INSERT INTO program_approvals (resource_key, program, expires_at, source, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (resource_key, program) DO UPDATE SET expires_at = excluded.expires_at, source = excluded.source, created_at = excluded.created_at`,
        )
        .run(resourceKey, program, expiresAt, source, now);
    })();
  }

  revoke(resourceKey: string, program: string): boolean {
    return this.#db.prepare('DELETE FROM program_approvals WHERE resource_key = ? AND program = ?').run(resourceKey, program).changes > 0;
  }
}
