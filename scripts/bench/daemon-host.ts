/**
 * The daemon in a child process of its own (forked by run.ts, with
 * --expose-gc), started through startDaemon exactly as `mcpauthd daemon`
 * does, so the benchmark can look inside it: the scheduler's timer count,
 * Node's active handles, heap after a full GC, refreshes in flight.
 *
 *   fork('daemon-host.js', [home, socket, configDir])   (configDir: the key file's, issue 17)
 */
import Database from 'better-sqlite3';
import { getHeapSpaceStatistics } from 'node:v8';
import { startDaemon, type DaemonHandle } from '../../daemon/daemon.js';
import { createLogger } from '../../daemon/os/logger.js';
import { resolvePaths } from '../../shared/paths.js';
import { serveRpc } from './rpc.js';

const [home, socket, config] = process.argv.slice(2);
if (home === undefined || socket === undefined || config === undefined) throw new Error('usage: daemon-host.js <home> <socket> <config-dir>');
const paths = resolvePaths({ home, socket, config });

export interface HostMetrics {
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
  credentials: number;
  /** RefreshScheduler.timerCount: the one wake-up plus the sweep. */
  schedulerTimers: number;
  nextWakeAt: number | null;
  refreshesRunning: number;
  refreshesInFlight: number;
  /** process.getActiveResourcesInfo(), counted by kind. */
  activeResources: Record<string, number>;
  activeTimeouts: number;
  /** V8 heap spaces in use, MB (code_space grows as the JIT optimises hot paths). */
  heapSpacesMB: Record<string, number>;
}

export interface Peaks {
  samples: number;
  peakRssMB: number;
  peakHeapUsedMB: number;
  peakInFlight: number;
}

/** Megabytes (10^6 bytes), the unit of the targets. */
const MB = 1_000_000;
let handle: DaemonHandle | undefined;
let sampler: NodeJS.Timeout | undefined;
let peaks: Peaks = { samples: 0, peakRssMB: 0, peakHeapUsedMB: 0, peakInFlight: 0 };

function metrics(): HostMetrics {
  const d = handle;
  if (d === undefined) throw new Error('the daemon is not running');
  const mem = process.memoryUsage();
  const activeResources: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) activeResources[kind] = (activeResources[kind] ?? 0) + 1;
  return {
    rssMB: mem.rss / MB,
    heapUsedMB: mem.heapUsed / MB,
    heapTotalMB: mem.heapTotal / MB,
    externalMB: mem.external / MB,
    credentials: d.store.count(),
    schedulerTimers: d.scheduler.timerCount,
    nextWakeAt: d.scheduler.nextWakeAt,
    refreshesRunning: d.scheduler.runningCount,
    refreshesInFlight: d.refresher.inFlightCount,
    activeResources,
    activeTimeouts: activeResources['Timeout'] ?? 0,
    heapSpacesMB: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_used_size / MB])),
  };
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('start the host with --expose-gc');
  gc();
  gc();
}

const started = performance.now();
handle = await startDaemon({
  paths,
  logger: createLogger({ level: 'warn' }),
  keys: { choice: 'key_file' },
});
const startMs = performance.now() - started;

serveRpc({
  started: () => ({ startMs, pid: process.pid }),
  metrics: () => metrics(),
  gc: async () => {
    // Let pending work and finalizers settle between collections.
    fullGc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    fullGc();
    return metrics();
  },
  sampleStart: ({ everyMs }: { everyMs: number }) => {
    peaks = { samples: 0, peakRssMB: 0, peakHeapUsedMB: 0, peakInFlight: 0 };
    const sample = () => {
      const mem = process.memoryUsage();
      peaks.samples += 1;
      peaks.peakRssMB = Math.max(peaks.peakRssMB, mem.rss / MB);
      peaks.peakHeapUsedMB = Math.max(peaks.peakHeapUsedMB, mem.heapUsed / MB);
      peaks.peakInFlight = Math.max(peaks.peakInFlight, handle?.refresher.inFlightCount ?? 0);
    };
    sample();
    sampler = setInterval(sample, everyMs);
    return true;
  },
  sampleStop: () => {
    clearInterval(sampler);
    sampler = undefined;
    return peaks;
  },
  /**
   * Makes every refreshable credential due now, as a laptop waking from a week
   * of sleep sees them. This writes refresh_at behind the token store's back
   * (its record cache may show the old refresh_at until each refresh rewrites
   * the record); harmless here: due times are always read with SQL, and the
   * refresh tokens, which the cache must never get wrong, are not touched.
   */
  triggerDue: () => {
    const at = Date.now();
    const db = new Database(paths.database);
    let changed: number;
    try {
      db.pragma('busy_timeout = 5000');
      changed = db.prepare('UPDATE credentials SET refresh_at = ? WHERE refresh_token IS NOT NULL').run(at - 1_000).changes;
    } finally {
      db.close();
    }
    handle?.scheduler.reschedule();
    return { at, changed };
  },
  /**
   * What one scheduler pump costs in queries: nextDueAt() and dueForRefresh()
   * run after every refresh and every sweep. Median of repeated calls, µs.
   */
  pumpCost: () => {
    const store = handle?.store;
    if (store === undefined) throw new Error('the daemon is not running');
    const time = (fn: () => unknown): number => {
      const samples: number[] = [];
      for (let i = 0; i < 41; i++) {
        const t0 = performance.now();
        fn();
        samples.push((performance.now() - t0) * 1000);
      }
      return samples.sort((a, b) => a - b)[20] as number;
    };
    return { nextDueAtUs: time(() => store.nextDueAt()), dueForRefreshUs: time(() => store.dueForRefresh(Date.now(), 8)) };
  },
  stop: async () => {
    await handle?.close();
    handle = undefined;
    return true;
  },
});
