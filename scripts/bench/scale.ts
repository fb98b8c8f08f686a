/**
 * Bench section 3's inside view of a daemon (scale): timers, handles, heap and
 * the scheduler's pump cost, in a forked host on a planted state directory.
 */
import { join } from 'node:path';
import { BENCH_DIST, FAKE_SERVER_URL_TEMPLATE, daemonHostExecArgv, fakeServerUrl, sleep, type BenchHome, type DaemonProc } from './common.js';
import type { HostMetrics } from './daemon-host.js';
import type { LoadArgs, LoadResult } from './load-client.js';
import type { BenchConfig, HostView } from './results-shape.js';
import { RpcChild } from './rpc.js';
import { sampleResult } from './sample-result.js';

/**
 * The daemon's insides (scheduler timers, Node's active handles, heap, the
 * cost of a scheduler pump) in a forked host on the same state directory. The
 * CLI daemon on that directory is stopped first (one daemon per directory).
 * Then a load that asks for every credential at random, to see the memory of
 * a daemon whose whole record cache is filled: during the load, and after a
 * full GC (what is really held, as opposed to garbage V8 has not collected).
 */
export async function hostView(home: BenchHome, running: DaemonProc, count: number, loader: RpcChild, config: BenchConfig): Promise<HostView> {
  const quick = config.quick;
  await running.stop();
  const host = new RpcChild(join(BENCH_DIST, 'daemon-host.js'), [home.paths.home, home.paths.socket, home.paths.configDir], daemonHostExecArgv());
  try {
    await host.whenReady();
    await sampleResult(home.paths.socket, fakeServerUrl(0));
    await sleep(200);
    const idle = await host.call<HostMetrics>('gc');
    const pump = await host.call<HostView['pump']>('pumpCost');
    const load = await loader.call<LoadResult>('load', {
      socket: home.paths.socket,
      clients: config.concurrency,
      warmupMs: config.warmupMs,
      // Long enough to ask for every credential several times.
      durationMs: Math.max(config.durationMs, quick ? 0 : 3000),
      template: FAKE_SERVER_URL_TEMPLATE,
      count,
    } satisfies LoadArgs);
    const underLoad = await host.call<HostMetrics>('metrics');
    const afterGc = await host.call<HostMetrics>('gc');
    return { idle, underLoad, afterGc, pump, loadRps: load.rps };
  } finally {
    await host.call('stop').catch(() => undefined);
    await host.stop();
  }
}
