/**
 * Time for the refresh scheduler: `now`, a one-shot wake-up and a periodic
 * sweep. Production uses croner; tests inject a manual clock, so scheduling
 * logic is tested without sleeping.
 */
import { Cron } from 'croner';

export interface SchedulerClock {
  now(): number;
  /** Calls `fn` once at epoch ms `at` (at once if that is past); returns a cancel function. */
  at(at: number, fn: () => void): () => void;
  /** Calls `fn` every `everySec` seconds; returns a cancel function. */
  every(everySec: number, fn: () => void): () => void;
}

export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  at(at, fn) {
    // croner silently never fires a one-shot job dated in the past unless
    // allowPast is set; a past-due refresh must run now, not never.
    const job = new Cron(new Date(Math.max(at, Date.now())), { allowPast: true, catch: true, maxRuns: 1 }, fn);
    return () => job.stop();
  },
  every(everySec, fn) {
    // protect: a slow sweep is skipped rather than run twice at once.
    const job = new Cron(`*/${Math.max(1, Math.min(59, Math.round(everySec)))} * * * * *`, { protect: true, catch: true }, fn);
    return () => job.stop();
  },
};
