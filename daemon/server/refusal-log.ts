/**
 * Rate limit for the "refused a connection" log line (issue 13 item 6). A
 * local user who can reach a loosened socket directory can connect tens of
 * thousands of times a second; one line each rotated the daemon's log away.
 * Now each key (the peer's uid, or "unknown") gets at most one line per
 * interval, and that line says how many refusals were left out since the
 * previous one, so nothing is hidden, only folded.
 *
 * Counts still open when the daemon stops are handed out by drain() for one
 * last line each. The number of keys tracked is bounded (uids are many): past
 * 1024, the least recently logged key is forgotten, with its open count.
 */

export interface RefusalLogOptions {
  intervalMs: number;
  now: () => number;
  /** Keys tracked at once; the oldest is forgotten first. Default 1024. */
  maxKeys?: number;
}

export interface RefusalDecision {
  /** Write a line for this refusal. */
  log: boolean;
  /** Refusals of this key not logged since its previous line (0 unless `log`). */
  suppressed: number;
}

interface Window {
  loggedAt: number;
  suppressed: number;
}

export class RefusalLog {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();

  constructor(options: RefusalLogOptions) {
    if (!Number.isFinite(options.intervalMs) || options.intervalMs < 0) throw new RangeError('intervalMs must be a non-negative number');
    this.#intervalMs = options.intervalMs;
    this.#now = options.now;
    this.#maxKeys = options.maxKeys ?? 1024;
  }

  get size(): number {
    return this.#windows.size;
  }

  /** Decides one refusal of `key`. */
  record(key: string): RefusalDecision {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window !== undefined && now - window.loggedAt < this.#intervalMs) {
      window.suppressed += 1;
      return { log: false, suppressed: 0 };
    }
    const suppressed = window?.suppressed ?? 0;
    // Re-inserted, so the map's order is least recently logged first.
    this.#windows.delete(key);
    if (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done !== true) this.#windows.delete(oldest.value);
    }
    this.#windows.set(key, { loggedAt: now, suppressed: 0 });
    return { log: true, suppressed };
  }

  /** Keys with refusals not yet logged, and how many; forgets them. */
  drain(): { key: string; suppressed: number }[] {
    const pending = [...this.#windows].filter(([, w]) => w.suppressed > 0).map(([key, w]) => ({ key, suppressed: w.suppressed }));
    this.#windows.clear();
    return pending;
  }
}
