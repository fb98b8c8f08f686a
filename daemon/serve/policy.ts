/**
 * Who may use which credential (issue 18). Per resource: `allow` (the
 * default, today's behaviour), `confirm` (a program not yet approved is asked
 * about through daemon/os/askpass.ts; a yes is remembered for that program)
 * or `deny` (only programs approved with `mcpauthd policy allow`). Programs
 * are named as the audit names them (daemon/server/caller.ts).
 *
 * The threat model still trusts every process of the user (docs/security.md):
 * this is about seeing and deciding, not a sandbox.
 *
 * The rules are held in memory and re-read after every write, so a token
 * request with no policy set costs one map lookup.
 */
import { AuthdError } from '../../shared/errors.js';
import type { PolicyMode, ResourcePolicy } from '../../shared/protocol/audit-policy-types.js';
import type { AskOutcome, Asker } from '../os/askpass.js';
import type { Logger } from '../os/logger.js';
import type { PolicyRow, PolicyTable } from '../store/policy-table.js';
import { GONE_PROGRAM, UNKNOWN_PROGRAM } from '../server/caller.js';
import type { AuditSubject } from './audit.js';

export interface PolicySubjectCredential {
  resource: string;
  resourceKey: string;
  serverUrls: readonly string[];
}

export interface PolicySettings {
  /** How long a yes given when asked lasts. Default 30 days. */
  rememberMs: number;
  /** After a no (or no answer), the same program is refused without asking again for this long. Default 60 s. */
  refusalQuietMs: number;
}

export const DEFAULT_POLICY: PolicySettings = { rememberMs: 30 * 86_400_000, refusalQuietMs: 60_000 };

/** Puts a program name in single quotes for a shell, so the command in an error can be pasted. */
export function shellQuote(text: string): string {
  if (SHELL_SAFE.test(text)) return text;
  return QUOTE + text.split(QUOTE).join(ESCAPED_QUOTE) + QUOTE;
}

const SHELL_SAFE = /^[\w@%+=:,./-]+$/;
const QUOTE = "'";
/** Close the quote, an escaped quote, open again. */
const ESCAPED_QUOTE = "'\\''";

export class PolicyService {
  readonly #table: PolicyTable;
  readonly #ask: Asker;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #settings: PolicySettings;
  #rows = new Map<string, PolicyRow>();
  readonly #asking = new Map<string, Promise<AskOutcome>>();
  readonly #quietUntil = new Map<string, { until: number; outcome: AskOutcome }>();

  constructor(options: { table: PolicyTable; ask: Asker; now: () => number; logger: Logger; settings?: Partial<PolicySettings> }) {
    this.#table = options.table;
    this.#ask = options.ask;
    this.#now = options.now;
    this.#logger = options.logger;
    this.#settings = { ...DEFAULT_POLICY, ...options.settings };
    this.#reload();
  }

  #reload(): void {
    this.#rows = new Map(this.#table.all().map((row) => [row.resourceKey, row]));
  }

  /**
   * Resolves (or returns) when `subject` may use the credential; throws
   * `denied` otherwise. Synchronous unless it has to ask.
   */
  check(credential: PolicySubjectCredential, subject: AuditSubject | undefined): void | Promise<void> {
    if (this.#rows.size === 0) return;
    const row = this.#rows.get(credential.resourceKey);
    if (row === undefined || row.mode === 'allow') return;
    const program = subject?.program ?? UNKNOWN_PROGRAM;
    const now = this.#now();
    if (row.approvals.some((a) => a.program === program && (a.expires_at === null || a.expires_at > now))) return;
    if (row.mode === 'deny') throw this.#denied(credential.resource, program, 'deny', `the policy for ${credential.resource} is deny and ${program} is not allowed`);
    if (program === UNKNOWN_PROGRAM || program === GONE_PROGRAM) {
      throw this.#denied(credential.resource, program, 'confirm', `the policy for ${credential.resource} is confirm and the program asking cannot be identified`);
    }
    return this.#confirm(credential, program, subject?.pid ?? null);
  }

  async #confirm(credential: PolicySubjectCredential, program: string, pid: number | null): Promise<void> {
    const key = `${credential.resourceKey}\0${program}`;
    const quiet = this.#quietUntil.get(key);
    let outcome: AskOutcome;
    if (quiet !== undefined && quiet.until > this.#now()) outcome = quiet.outcome;
    else {
      // One question per program and resource at a time: concurrent requests share the answer.
      let asking = this.#asking.get(key);
      if (asking === undefined) {
        asking = this.#ask({ program, pid, resource: credential.resource, serverUrl: credential.serverUrls[0] ?? null }).finally(() => this.#asking.delete(key));
        this.#asking.set(key, asking);
      }
      outcome = await asking;
      if (outcome.answer === 'yes') {
        // Remembered once, by whichever request got here first.
        const row = this.#rows.get(credential.resourceKey);
        if (!(row?.approvals.some((a) => a.program === program) ?? false)) {
          this.#table.approve(credential.resourceKey, credential.resource, program, this.#now() + this.#settings.rememberMs, 'prompt', this.#now());
          this.#reload();
          this.#logger.info('program approved when asked', { resource: credential.resource, program, helper: outcome.helper });
        }
        return;
      }
      this.#quietUntil.set(key, { until: this.#now() + this.#settings.refusalQuietMs, outcome });
      if (this.#quietUntil.size > 1000) this.#quietUntil.clear();
    }
    throw this.#denied(credential.resource, program, 'confirm', `${program} asked to use the credential for ${credential.resource} and ${describe(outcome)}`);
  }

  #denied(resource: string, program: string, mode: PolicyMode, why: string): AuthdError {
    return new AuthdError('denied', `${why}; to allow it: mcpauthd policy allow ${shellQuote(resource)} ${shellQuote(program)}`, {
      data: { resource, program, policy: mode, command: `mcpauthd policy allow ${shellQuote(resource)} ${shellQuote(program)}` },
    });
  }

  show(): ResourcePolicy[] {
    return [...this.#rows.values()].map(toWire);
  }

  get(resourceKey: string, resource: string): ResourcePolicy {
    const row = this.#rows.get(resourceKey);
    return row === undefined ? { resource, mode: 'allow', approvals: [] } : toWire(row);
  }

  setMode(resourceKey: string, resource: string, mode: PolicyMode): ResourcePolicy {
    this.#table.setMode(resourceKey, resource, mode, this.#now());
    this.#quietUntil.clear();
    this.#reload();
    return this.get(resourceKey, resource);
  }

  allow(resourceKey: string, resource: string, program: string, forMs: number | undefined): ResourcePolicy {
    const now = this.#now();
    this.#table.approve(resourceKey, resource, program, forMs === undefined ? null : now + forMs, 'cli', now);
    this.#quietUntil.clear();
    this.#reload();
    return this.get(resourceKey, resource);
  }

  revoke(resourceKey: string, resource: string, program: string): ResourcePolicy & { revoked: boolean } {
    const revoked = this.#table.revoke(resourceKey, program);
    this.#reload();
    return { ...this.get(resourceKey, resource), revoked };
  }
}

function describe(outcome: AskOutcome): string {
  switch (outcome.answer) {
    case 'yes':
      return 'was allowed';
    case 'no':
      return `the user said no (${outcome.helper})`;
    case 'no_answer':
      return `nobody answered within ${Math.round(outcome.timeoutMs / 1000)} s (${outcome.helper})`;
    case 'failed':
      return `the question could not be asked (${outcome.helper}: ${outcome.reason})`;
    case 'no_helper':
      return `nobody could be asked: ${outcome.reason}`;
  }
}

/** Times on the wire are Unix seconds. */
function toWire(row: PolicyRow): ResourcePolicy {
  return {
    resource: row.resource,
    mode: row.mode,
    approvals: row.approvals.map((a) => ({ ...a, expires_at: a.expires_at === null ? null : Math.floor(a.expires_at / 1000), created_at: Math.floor(a.created_at / 1000) })),
  };
}
