/**
 * One scheduler for every credential (not a timer per credential), the way
 * ssh-agent's reaper works: a single wake-up armed for the earliest due time
 * in the store, re-armed after each run, plus a periodic sweep that catches
 * wake-ups lost to system sleep, clock changes or a restart. Due credentials
 * are refreshed with bounded concurrency, so a thousand past-due credentials
 * at start-up do not open a thousand connections at once.
 */
import type { Logger } from '../os/logger.js';
import type { SchedulerClock } from './scheduler-clock.js';
import type { TokenRefresher } from './token-refresher.js';
import type { TokenStore } from '../store/token-store.js';

/** Refreshes running at once across all credentials. */
export const DEFAULT_REFRESH_CONCURRENCY = 8;
/** Seconds between sweeps that re-check the store regardless of the armed wake-up. */
export const DEFAULT_SWEEP_SEC = 30;

export interface RefreshSchedulerOptions {
  store: TokenStore;
  refresher: TokenRefresher;
  clock: SchedulerClock;
  logger: Logger;
  concurrency?: number;
  sweepSec?: number;
}

export class RefreshScheduler {
  readonly #store: TokenStore;
  readonly #refresher: TokenRefresher;
  readonly #clock: SchedulerClock;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #sweepSec: number;
  #cancelWake: (() => void) | undefined;
  #stopListening: (() => void) | undefined;
  #wakeAt: number | null = null;
  #cancelSweep: (() => void) | undefined;
  #running = 0;
  #stopped = true;
  #idle: Promise<void> = Promise.resolve();
  #resolveIdle: (() => void) | undefined;

  constructor(options: RefreshSchedulerOptions) {
    this.#store = options.store;
    this.#refresher = options.refresher;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#concurrency = options.concurrency ?? DEFAULT_REFRESH_CONCURRENCY;
    this.#sweepSec = options.sweepSec ?? DEFAULT_SWEEP_SEC;
  }

  /** Starts the sweep and runs whatever is already due (past-due credentials after a restart). */
  start(): void {
    this.#stopped = false;
    // Every refresh that ends, scheduled or asked for by token.get, moves a due time.
    this.#stopListening?.();
    this.#stopListening = this.#refresher.addSettledListener(() => this.reschedule());
    this.#cancelSweep = this.#clock.every(this.#sweepSec, () => this.#pump());
    this.#pump();
  }

  stop(): void {
    this.#stopped = true;
    this.#stopListening?.();
    this.#stopListening = undefined;
    this.#cancelWake?.();
    this.#cancelWake = undefined;
    this.#wakeAt = null;
    this.#cancelSweep?.();
    this.#cancelSweep = undefined;
  }

  /** Call after anything changed a due time (a login, a rotation elsewhere). */
  reschedule(): void {
    if (!this.#stopped) this.#pump();
  }

  /** The one armed wake-up, for status and benchmarks: epoch ms or null. */
  get nextWakeAt(): number | null {
    return this.#wakeAt;
  }

  /** Armed timers: the wake-up and the sweep. Constant, however many credentials. */
  get timerCount(): number {
    return (this.#cancelWake === undefined ? 0 : 1) + (this.#cancelSweep === undefined ? 0 : 1);
  }

  get runningCount(): number {
    return this.#running;
  }

  /** Resolves when no refresh started by the scheduler is running (tests, shutdown). */
  whenIdle(): Promise<void> {
    return this.#running === 0 ? Promise.resolve() : this.#idle;
  }

  /** Starts due refreshes up to the concurrency bound, then arms the wake-up for the next one. */
  #pump(): void {
    if (this.#stopped) return;
    const free = this.#concurrency - this.#running;
    if (free > 0) {
      const now = this.#clock.now();
      // Ask for a few more than we can start: some may already be in flight through token.get.
      const due = this.#store.dueForRefresh(now, free + this.#refresher.inFlightCount);
      for (const record of due) {
        if (this.#running >= this.#concurrency) break;
        if (this.#refresher.isInFlight(record.resourceKey)) continue;
        this.#startOne(record.resourceKey);
      }
    }
    this.#arm();
  }

  #startOne(key: string): void {
    const record = this.#store.getByKey(key);
    if (record === undefined) return;
    if (this.#running === 0) this.#idle = new Promise((resolve) => (this.#resolveIdle = resolve));
    this.#running += 1;
    this.#refresher
      .refresh(record, 'scheduled')
      .catch((err: unknown) => {
        // The refresher recorded the failure and the next attempt time; nothing to add.
        this.#logger.debug('scheduled refresh did not succeed', { resource: record.resource, code: (err as { code?: string }).code });
      })
      .finally(() => {
        this.#running -= 1;
        if (this.#running === 0) this.#resolveIdle?.();
        this.#pump();
      });
  }

  #arm(): void {
    if (this.#stopped) return;
    // While every slot is busy the finishing refreshes pump again, and a due time
    // already past belongs to a refresh in flight, which pumps when it settles:
    // arming for it would spin.
    const due = this.#running >= this.#concurrency ? null : this.#store.nextDueAt();
    const next = due !== null && due <= this.#clock.now() ? null : due;
    if (next === this.#wakeAt && this.#cancelWake !== undefined) return;
    this.#cancelWake?.();
    this.#cancelWake = undefined;
    this.#wakeAt = next;
    if (next === null) return;
    this.#cancelWake = this.#clock.at(next, () => {
      this.#cancelWake = undefined;
      this.#wakeAt = null;
      this.#pump();
    });
  }
}
