/**
 * The audit trail (issue 18): every token.get, dpop.proof, login, refresh
 * (with its trigger), logout and refused request, with who asked. Recording
 * is a push onto an in-memory batch: the hot path runs no SQL. The batch is
 * written in one transaction every `flushIntervalMs` (or once it holds
 * `batchSize` events), off the request's path; the table is pruned by age and
 * count after writes. audit.list flushes first, so it sees every request
 * answered before it; status's programs read the batch beside the table.
 *
 * Never a token: an event holds names, numbers and codes only (AuditEvent).
 *
 * Identical requests in one batch (same caller, method, resource, outcome)
 * become one row with a count and the first and last time: a repeat on the
 * hot path is a counter increment, no allocation; names, keys and SQL happen
 * at the write.
 */
import type { AuditEvent } from '../../shared/protocol/audit-policy-types.js';
import { resourceKey } from '../../shared/resource-uri.js';
import type { Logger } from '../os/logger.js';
import { isProgramUse, type AuditQuery, type AuditRow, type AuditTable } from '../store/audit-table.js';
import { UNKNOWN_PROGRAM } from '../server/caller.js';

export interface AuditSettings {
  /** false: nothing is recorded (status shows no programs). Default true. */
  enabled: boolean;
  /** Events older than this are deleted. Default 90 days. */
  maxAgeMs: number;
  /** At most this many events are kept, the newest. Default 100,000. */
  maxRows: number;
  /** How long an event may wait in memory before it is written (each write is a commit with an fsync; a read flushes first, a crash loses at most this much). Default 5 s. */
  flushIntervalMs: number;
  /**
   * A batch of this many rows (distinct callers and requests) is written at
   * once, whatever the interval. Default 16,384: large enough that a process
   * asking for 10,000 resources folds its repeats within the interval (one
   * insert every few seconds, not one per request).
   */
  batchSize: number;
}

export const DEFAULT_AUDIT: AuditSettings = {
  enabled: true,
  maxAgeMs: 90 * 86_400_000,
  maxRows: 100_000,
  flushIntervalMs: 5_000,
  batchSize: 16_384,
};

/** Events kept in memory while the database refuses writes; the oldest go first beyond this. */
const MAX_PENDING = 50_000;

/** Resources whose key is remembered (#keyOf): DEFAULT_AUDIT.batchSize. */
const KEY_CACHE_SIZE = 16_384;

/** A row of the batch being gathered, with the caller it came from (its chain is named at the write). */
interface OpenRow extends AuditRow {
  subject: AuditSubject;
}
/** One process's rows of the batch: plain answers by method and resource, the rest by a joined key. */
interface ProcessRows {
  ok: Map<string, Map<string | null, OpenRow>>;
  other: Map<string, OpenRow>;
}

/** Prune at most this often (a DELETE per flush would cost more than the inserts). */
const PRUNE_INTERVAL_MS = 60_000;

/** Who asked, as the audit needs it (daemon/server/caller.ts Caller fits). */
export interface AuditSubject {
  readonly program: string;
  readonly pid: number | null;
  readonly chain: readonly { readonly name: string }[];
}

/** The scheduler's own refreshes have no caller. */
export const DAEMON_SUBJECT: AuditSubject = { program: 'mcpauthd daemon', pid: null, chain: [] };

export interface AuditRecord {
  method: string;
  resource: string | null;
  subject: AuditSubject | undefined;
  outcome: AuditEvent['outcome'];
  errorCode?: string | null;
  detail?: string | null;
}

export class AuditLog {
  readonly #table: AuditTable | undefined;
  readonly #settings: AuditSettings;
  readonly #now: () => number;
  readonly #logger: Logger;
  /** This batch's rows, in order of their first request. */
  #open: OpenRow[] = [];
  /**
   * This batch's rows by who asked and what was asked, to fold a repeat into
   * its row without building a key: who asked is a program and pid (every
   * connection of one process folds together: one process asking for 10,000
   * resources at random over 50 connections must not make a row per request),
   * found once per connection object; what was asked is method → resource for
   * the common answer (ok, no code, no detail), else one joined key. A scan of
   * the caller's rows, then one string key per request, cost 4-8% of
   * token.get's throughput (docs/benchmarks.md).
   */
  #processes = new Map<string, ProcessRows>();
  #processOf = new WeakMap<AuditSubject, ProcessRows>();
  /** Rows a failed write could not store, tried again with the next batch. */
  #unwritten: AuditRow[] = [];
  /** Each caller's chain names (#chainOf). */
  #chains = new WeakMap<AuditSubject, string[]>();
  /** Credential uses not written yet, by resource key (#pendingUsesOf); undefined when a row was added or written since. */
  #pendingUses: Map<string, AuditRow[]> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastPrune = 0;
  #failing = false;
  #closed = false;
  /**
   * resource → key (bounded: cleared when it grows past KEY_CACHE_SIZE). As
   * large as a batch: with 1,000, a process asking for 10,000 resources made
   * it miss on every row of every batch (URL parsing, in the write's pause).
   */
  readonly #keys = new Map<string, string | null>();

  constructor(options: { table: AuditTable | undefined; settings?: Partial<AuditSettings>; now: () => number; logger: Logger }) {
    this.#settings = { ...DEFAULT_AUDIT, ...options.settings };
    this.#table = this.#settings.enabled ? options.table : undefined;
    this.#now = options.now;
    this.#logger = options.logger;
  }

  get enabled(): boolean {
    return this.#table !== undefined;
  }

  /** Queues one event; cheap, synchronous, never throws. */
  record(entry: AuditRecord): void {
    if (this.#table === undefined || this.#closed) return;
    const subject = entry.subject ?? UNKNOWN_SUBJECT;
    const at = this.#now();
    const errorCode = entry.errorCode ?? null;
    const detail = entry.detail ?? null;
    const rows = this.#rowsOf(subject);
    const plain = entry.outcome === 'ok' && errorCode === null && detail === null;
    let byResource: Map<string | null, OpenRow> | undefined;
    let otherKey = '';
    let repeat: OpenRow | undefined;
    if (plain) {
      byResource = rows.ok.get(entry.method);
      if (byResource === undefined) rows.ok.set(entry.method, (byResource = new Map()));
      repeat = byResource.get(entry.resource);
    } else {
      // Joined by NUL, null as \u0001: validated request fields hold neither.
      otherKey = `${entry.method}\0${entry.resource ?? '\u0001'}\0${entry.outcome}\0${errorCode ?? '\u0001'}\0${detail ?? '\u0001'}`;
      repeat = rows.other.get(otherKey);
    }
    if (repeat !== undefined) {
      repeat.count += 1;
      repeat.last_at = at;
      return;
    }
    const row: OpenRow = {
      at, last_at: at, count: 1, method: entry.method, resource: entry.resource, resourceKey: null,
      program: subject.program, pid: subject.pid, chain: [], outcome: entry.outcome, error_code: errorCode, detail, subject,
    };
    if (byResource !== undefined) byResource.set(entry.resource, row);
    else rows.other.set(otherKey, row);
    this.#open.push(row);
    this.#pendingUses = undefined;
    if (this.#open.length >= this.#settings.batchSize) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#settings.flushIntervalMs).unref();
  }

  /** The batch's rows of the process behind `subject` (looked up by name once per connection object). */
  #rowsOf(subject: AuditSubject): ProcessRows {
    let rows = this.#processOf.get(subject);
    if (rows !== undefined) return rows;
    const name = `${subject.program}\0${subject.pid ?? ''}`;
    rows = this.#processes.get(name);
    if (rows === undefined) this.#processes.set(name, (rows = { ok: new Map(), other: new Map() }));
    this.#processOf.set(subject, rows);
    return rows;
  }

  /** Writes what is queued (one transaction) and prunes when due. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pendingUses = undefined;
    const table = this.#table;
    if (table === undefined || (this.#open.length === 0 && this.#unwritten.length === 0)) return;
    const batch: AuditRow[] = this.#unwritten;
    for (const row of this.#open) batch.push(this.#finish(row));
    this.#open = [];
    this.#processes.clear();
    this.#processOf = new WeakMap();
    this.#unwritten = [];
    try {
      table.append(batch);
      if (this.#failing) this.#logger.info('audit trail writes again');
      this.#failing = false;
      const now = this.#now();
      if (now - this.#lastPrune >= PRUNE_INTERVAL_MS) {
        this.#lastPrune = now;
        table.prune(now - this.#settings.maxAgeMs, this.#settings.maxRows);
      }
    } catch (err) {
      // Keep the events for the next try (bounded), and say so once, not per batch.
      this.#unwritten = batch.slice(-MAX_PENDING);
      if (!this.#failing) this.#logger.warn('could not write the audit trail; keeping events in memory and retrying', { reason: (err as Error).message, pending: this.#unwritten.length });
      this.#failing = true;
      this.#timer ??= setTimeout(() => this.flush(), this.#settings.flushIntervalMs * 8).unref();
    }
  }

  /**
   * A gathered row as it is stored: resource key and chain names set here,
   * off the request's path, in place (a batch may hold 10,000 rows, written
   * while the daemon answers nobody: no copy per row).
   */
  #finish(open: OpenRow): AuditRow {
    open.resourceKey = this.#keyOf(open.resource);
    open.chain = this.#chainOf(open.subject);
    return open;
  }

  /** A caller's chain names, one array per caller: its rows share it, and the table writes its JSON once. */
  #chainOf(subject: AuditSubject): string[] {
    let chain = this.#chains.get(subject);
    if (chain === undefined) this.#chains.set(subject, (chain = subject.chain.map((p) => p.name)));
    return chain;
  }

  #keyOf(resource: string | null): string | null {
    if (resource === null) return null;
    let key = this.#keys.get(resource);
    if (key === undefined) {
      if (this.#keys.size > KEY_CACHE_SIZE) this.#keys.clear();
      key = keyOf(resource);
      this.#keys.set(resource, key);
    }
    return key;
  }

  /** Flushed first, so a request answered before this one is in the result. */
  query(q: AuditQuery): { events: AuditEvent[]; truncated: boolean } {
    this.flush();
    return this.#table?.query(q) ?? { events: [], truncated: false };
  }

  /**
   * The programs served a token for `resource` since `since` (ms): the
   * table's, and this batch's uses not written yet. Not flushed first, unlike
   * query(): status runs per request in scripts, and a write (a commit with an
   * fsync) per status was most of its time in the daemon.
   */
  programsSince(resource: string, since: number): string[] {
    const key = keyOf(resource);
    if (this.#table === undefined || key === null) return [];
    const programs = new Set(this.#table.programsSince(key, since));
    for (const row of this.#pendingUsesOf(key)) if (row.last_at >= since) programs.add(row.program);
    return [...programs].sort();
  }

  /** The uses of resource `key` not written yet (this batch, and rows a failed write kept). */
  #pendingUsesOf(key: string): readonly AuditRow[] {
    if (this.#pendingUses === undefined) {
      // Built once per batch state, not per credential of a status page: a batch may hold 16,384 rows.
      const byKey = new Map<string, AuditRow[]>();
      const add = (row: AuditRow, rowKey: string | null): void => {
        if (rowKey === null || !isProgramUse({ method: row.method, outcome: row.outcome, resourceKey: rowKey })) return;
        const list = byKey.get(rowKey);
        if (list === undefined) byKey.set(rowKey, [row]);
        else list.push(row);
      };
      for (const row of this.#unwritten) add(row, row.resourceKey);
      // Open rows are indexed as they are: a repeat moves their last_at in place.
      for (const row of this.#open) add(row, this.#keyOf(row.resource));
      this.#pendingUses = byKey;
    }
    return this.#pendingUses.get(key) ?? [];
  }

  /** Prunes now regardless of the interval (tests, and the end of a flush at shutdown). */
  pruneNow(): number {
    this.flush();
    const now = this.#now();
    this.#lastPrune = now;
    return this.#table?.prune(now - this.#settings.maxAgeMs, this.#settings.maxRows) ?? 0;
  }

  close(): void {
    this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

const UNKNOWN_SUBJECT: AuditSubject = { program: UNKNOWN_PROGRAM, pid: null, chain: [] };

function keyOf(resource: string | null): string | null {
  if (resource === null) return null;
  try {
    return resourceKey(resource);
  } catch {
    return null;
  }
}
