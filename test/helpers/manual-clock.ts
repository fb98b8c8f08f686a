/**
 * A clock the test moves by hand. Wake-ups fire in time order as the clock
 * passes them; `jump` moves time without firing wake-ups (a laptop waking up
 * from sleep), so only the sweep can notice.
 */
import type { SchedulerClock } from '../../daemon/refresh/scheduler-clock.js';

interface Wake {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements SchedulerClock {
  #now: number;
  #wakes: Wake[] = [];
  #sweeps: { everyMs: number; next: number; fn: () => void; cancelled: boolean }[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  at(at: number, fn: () => void): () => void {
    const wake: Wake = { at: Math.max(at, this.#now), fn, cancelled: false };
    this.#wakes.push(wake);
    return () => {
      wake.cancelled = true;
    };
  }

  every(everySec: number, fn: () => void): () => void {
    const sweep = { everyMs: everySec * 1000, next: this.#now + everySec * 1000, fn, cancelled: false };
    this.#sweeps.push(sweep);
    return () => {
      sweep.cancelled = true;
    };
  }

  /** Armed, not cancelled wake-ups (the sweep is not counted). */
  get pendingWakes(): number {
    return this.#wakes.filter((w) => !w.cancelled).length;
  }

  /** Moves time forward, firing wake-ups and sweeps in order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      const wake = this.#wakes.filter((w) => !w.cancelled && w.at <= end).sort((a, b) => a.at - b.at)[0];
      const sweep = this.#sweeps.filter((s) => !s.cancelled && s.next <= end).sort((a, b) => a.next - b.next)[0];
      if (wake === undefined && sweep === undefined) break;
      if (wake !== undefined && (sweep === undefined || wake.at <= sweep.next)) {
        this.#now = Math.max(this.#now, wake.at);
        wake.cancelled = true;
        wake.fn();
      } else if (sweep !== undefined) {
        this.#now = Math.max(this.#now, sweep.next);
        sweep.next += sweep.everyMs;
        sweep.fn();
      }
    }
    this.#now = end;
    await settle();
  }

  /** Moves time without firing anything: wake-ups armed for the skipped span are lost. */
  jump(ms: number): void {
    this.#now += ms;
    for (const w of this.#wakes) if (w.at <= this.#now) w.cancelled = true;
    for (const s of this.#sweeps) while (s.next <= this.#now) s.next += s.everyMs;
  }
}

/** Lets every queued promise continuation run (several rounds: chains are long). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
