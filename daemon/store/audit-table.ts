/**
 * The audit trail's rows (issue 18): written in batches, read newest first,
 * pruned by age and count. Every column is a name, a number or a code: no
 * token, and nothing derived from one, ever reaches this table.
 */
import type Database from 'better-sqlite3';
import type { AuditEvent } from '../../shared/protocol/audit-policy-types.js';

/** One event as it is stored: the event and the lookup key of its resource. */
export interface AuditRow extends AuditEvent {
  resourceKey: string | null;
}

export interface AuditQuery {
  resourceKey?: string;
  program?: string;
  /** Unix milliseconds. */
  since?: number;
  limit: number;
}

interface StoredAuditRow {
  at: number;
  method: string;
  resource: string | null;
  program: string;
  pid: number | null;
  chain: string;
  outcome: AuditEvent['outcome'];
  error_code: string | null;
  detail: string | null;
  count: number;
  last_at: number;
}

/** How stale a program's last use of a resource may be in audit_program_uses: status's "last day" is exact to the minute. */
export const USE_NOTE_MS = 60_000;
/** Pairs remembered by #noteUse (cleared beyond this; then each is written once more). */
const NOTED_USES_MAX = 100_000;

/** The methods that serve a credential: their plain (ok) uses are what status shows as "programs in the last day". */
export const CREDENTIAL_USE_METHODS: ReadonlySet<string> = new Set(['token.get', 'dpop.proof']);

/** True when `row` is a use status shows (schema 8's backfill selects the same rows). */
export function isProgramUse(row: Pick<AuditRow, 'method' | 'outcome' | 'resourceKey'>): row is Pick<AuditRow, 'method' | 'outcome'> & { resourceKey: string } {
  return row.outcome === 'ok' && row.resourceKey !== null && CREDENTIAL_USE_METHODS.has(row.method);
}

export class AuditTable {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #insertMany: (rows: readonly AuditRow[]) => void;
  readonly #pruneAge: Database.Statement;
  readonly #pruneCount: Database.Statement;
  readonly #programsSince: Database.Statement;
  readonly #upsertUse: Database.Statement;
  /** resource key NUL program → the last use written for it (#noteUse). */
  #notedUses = new Map<string, number>();
  readonly #pruneUses: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO audit_events (at, method, resource, resource_key, program, pid, chain, outcome, error_code, detail, count, last_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Each program's last use of each resource, kept with the rows in the same transaction (schema 8).
    this.#upsertUse = db.prepare(
      `INSERT INTO audit_program_uses (resource_key, program, last_at) VALUES (?, ?, ?)
       ON CONFLICT (resource_key, program) DO UPDATE SET last_at = max(last_at, excluded.last_at)`,
    );
    // Positional values and one JSON text per chain: the rows of one process share their chain array
    // (AuditLog), and a batch may hold 10,000 rows, written while the daemon serves nobody else.
    this.#insertMany = db.transaction((rows: readonly AuditRow[]) => {
      const chains = new Map<readonly string[], string>();
      for (const row of rows) {
        let chain = chains.get(row.chain);
        if (chain === undefined) chains.set(row.chain, (chain = JSON.stringify(row.chain)));
        this.#insert.run(row.at, row.method, row.resource, row.resourceKey, row.program, row.pid, chain, row.outcome, row.error_code, row.detail, row.count, row.last_at);
        if (isProgramUse(row)) this.#noteUse(row.resourceKey, row.program, row.last_at);
      }
    });
    this.#pruneAge = db.prepare('DELETE FROM audit_events WHERE at < ?');
    // Keep the newest `?` rows: ids grow with time (INTEGER PRIMARY KEY, batches appended in order).
    this.#pruneCount = db.prepare('DELETE FROM audit_events WHERE id <= (SELECT id FROM audit_events ORDER BY id DESC LIMIT 1 OFFSET ?)');
    this.#programsSince = db.prepare('SELECT program FROM audit_program_uses WHERE resource_key = ? AND last_at >= ? ORDER BY program');
    this.#pruneUses = db.prepare('DELETE FROM audit_program_uses WHERE last_at < ?');
  }

  /**
   * Keeps a program's last use of a resource, at most once a USE_NOTE_MS per
   * pair: status asks "in the last day", and a process asking for 10,000
   * resources would otherwise add 10,000 upserts to every batch (40% more
   * time in a write during which the daemon answers nobody).
   */
  #noteUse(resourceKey: string, program: string, at: number): void {
    const pair = `${resourceKey}\0${program}`;
    const noted = this.#notedUses.get(pair);
    if (noted !== undefined && at - noted < USE_NOTE_MS) return;
    if (this.#notedUses.size >= NOTED_USES_MAX) this.#notedUses.clear();
    this.#upsertUse.run(resourceKey, program, at);
    this.#notedUses.set(pair, at);
  }

  /** Appends a batch in one transaction. */
  append(rows: readonly AuditRow[]): void {
    if (rows.length === 0) return;
    try {
      this.#insertMany(rows);
    } catch (err) {
      // Rolled back: what #noteUse remembered as written was not.
      this.#notedUses.clear();
      throw err;
    }
  }

  /** Deletes events older than `before` (ms) and all but the newest `keep`; returns how many went. Last uses older than `before` go too. */
  prune(before: number, keep: number): number {
    this.#pruneUses.run(before);
    this.#notedUses.clear();
    return this.#pruneAge.run(before).changes + this.#pruneCount.run(keep).changes;
  }

  /** Newest first; one more row than `limit` is read to tell whether more matched. */
  query(q: AuditQuery): { events: AuditEvent[]; truncated: boolean } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.resourceKey !== undefined) {
      where.push('resource_key = ?');
      args.push(q.resourceKey);
    }
    if (q.program !== undefined) {
      where.push('program = ?');
      args.push(q.program);
    }
    if (q.since !== undefined) {
      where.push('at >= ?');
      args.push(q.since);
    }
    const sql = `SELECT at, method, resource, program, pid, chain, outcome, error_code, detail, count, last_at FROM audit_events
      ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY id DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...args, q.limit + 1) as StoredAuditRow[];
    const truncated = rows.length > q.limit;
    return { events: rows.slice(0, q.limit).map(toEvent), truncated };
  }

  /** The programs that were served a token for this resource since `since` (ms), by name: one indexed read, however long the trail. */
  programsSince(resourceKey: string, since: number): string[] {
    return (this.#programsSince.all(resourceKey, since) as { program: string }[]).map((r) => r.program);
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  }
}

function toEvent(row: StoredAuditRow): AuditEvent {
  let chain: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.chain);
    if (Array.isArray(parsed)) chain = parsed.filter((x): x is string => typeof x === 'string');
  } catch {
    chain = [];
  }
  return { at: row.at, method: row.method, resource: row.resource, program: row.program, pid: row.pid, chain, outcome: row.outcome, error_code: row.error_code, detail: row.detail, count: row.count, last_at: row.last_at };
}
