/**
 * Bench section `audit` (issue 18): token.get at N clients (default 50)
 * against two daemons in the same run, one recording the audit trail (the
 * default) and one started with --no-audit, in alternating order every round.
 * The target: the audited daemon at most 5% below the other's throughput.
 */
import { join } from 'node:path';
import { BENCH_DIST, childNodeArgs, FAKE_SERVER_URL_TEMPLATE, makeHome, plantCredentials, startDaemonProcess, type DaemonProc } from './common.js';
import type { LoadArgs, LoadResult } from './load-client.js';
import { measured, type BenchContext, type Measured } from './results-shape.js';
import { RpcChild } from './rpc.js';
import { round } from './stats.js';

export interface AuditCost {
  clients: number;
  on: Measured;
  off: Measured;
  /** (off - on) / off of the median throughputs, in percent: positive = the audit costs that much. */
  slowdownPct: number;
}

export async function runAuditCost(ctx: BenchContext): Promise<AuditCost> {
  const { config, log } = ctx;
  const homeOn = makeHome('audon');
  const homeOff = makeHome('audoff');
  await plantCredentials(homeOn, 1);
  await plantCredentials(homeOff, 1);
  const on: DaemonProc = await startDaemonProcess(homeOn);
  const off: DaemonProc = await startDaemonProcess(homeOff, 30_000, ['--no-audit']);
  const loader = new RpcChild(join(BENCH_DIST, 'load-client.js'), [], childNodeArgs);
  const clients = config.concurrency;
  const args = (socket: string, pid: number, durationMs: number): LoadArgs => ({
    socket, clients, warmupMs: config.warmupMs, durationMs, template: FAKE_SERVER_URL_TEMPLATE, count: 1, serverPid: pid, clkTck: 100,
  });
  const raw: { on: LoadResult[]; off: LoadResult[] } = { on: [], off: [] };
  try {
    await loader.whenReady();
    for (const d of [on, off]) await loader.call<LoadResult>('load', args(d === on ? homeOn.paths.socket : homeOff.paths.socket, d.pid, config.quick ? 50 : 1500));
    for (let r = 0; r < config.rounds; r++) {
      const order: ['on' | 'off', DaemonProc, string][] = [
        ['on', on, homeOn.paths.socket],
        ['off', off, homeOff.paths.socket],
      ];
      if (r % 2 === 1) order.reverse();
      for (const [name, d, socket] of order) {
        const result = await loader.call<LoadResult>('load', args(socket, d.pid, config.durationMs));
        if (result.errors > 0) log(`  audit ${name}: ${result.errors} errors, first: ${result.firstError}`);
        raw[name].push(result);
      }
      log(`audit round ${r + 1}/${config.rounds}: on ${round(raw.on.at(-1)?.rps ?? 0, 0)}/s, off ${round(raw.off.at(-1)?.rps ?? 0, 0)}/s (${clients} clients)`);
    }
  } finally {
    await loader.stop();
    await on.stop();
    await off.stop();
  }
  const result = { clients, on: measured(raw.on), off: measured(raw.off), slowdownPct: 0 };
  result.slowdownPct = ((result.off.rps - result.on.rps) / result.off.rps) * 100;
  log(`  audit on ${round(result.on.rps, 0)}/s (p50 ${round(result.on.p50 * 1000, 0)} µs, ${round(result.on.serverCpuUs, 1)} µs daemon CPU a request), off ${round(result.off.rps, 0)}/s (p50 ${round(result.off.p50 * 1000, 0)} µs, ${round(result.off.serverCpuUs, 1)} µs CPU): ${round(result.slowdownPct, 1)}% slower with the audit (target at most 5%)`);
  return result;
}
