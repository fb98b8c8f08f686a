/**
 * Bench sections 1 and 3 on shared daemons: token.get over the socket (1 and
 * N clients) against node-ipc echo servers, interleaved in rounds, and the
 * scale figures (start-up, memory, insides) of a daemon holding N credentials
 * against one holding 1. Section 2 (cli-timings.ts) runs here too, against
 * the 1-credential daemon while it is up.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli-timings.js';
import {
  BENCH_DIST,
  childNodeArgs,
  FAKE_SERVER_URL_TEMPLATE,
  fakeServerUrl,
  makeHome,
  plantCredentials,
  procMemory,
  sleep,
  startDaemonProcess,
  startReadyProcess,
  type BenchHome,
  type DaemonProc,
} from './common.js';
import type { LoadArgs, LoadResult } from './load-client.js';
import { measured, type BenchContext, type Measured, type Mode, type Subject } from './results-shape.js';
import { RpcChild } from './rpc.js';
import { sampleResult } from './sample-result.js';
import { hostView } from './scale.js';
import { median, round } from './stats.js';

/** Sections 1 and 3 (and 2, which needs the 1-credential daemon): they share their daemons. */
export async function runLatencyAndScale(ctx: BenchContext): Promise<void> {
  const { config, results, only, log } = ctx;
  const quick = config.quick;
  const n = config.credentials;
  const homeOne = makeHome('one');
  const homeMany = makeHome('many');
  await plantCredentials(homeOne, 1);
  log(`planting ${n} credentials...`);
  // --only cli needs no big store.
  const planted = only.has('latency') || only.has('scale') ? await plantCredentials(homeMany, n) : { ms: 0 };
  log(`  planted in ${round(planted.ms, 0)} ms`);

  // ---- start-up: spawn → "mcpauthd ready", alternating 1 and N credentials
  const oneStart: number[] = [];
  const manyStart: number[] = [];
  const oneRss: number[] = [];
  const manyRss: number[] = [];
  if (only.has('scale')) {
    log(`start-up, ${config.startupRuns} runs each...`);
    for (let r = 0; r < config.startupRuns; r++) {
      const order: [BenchHome, number[], number[]][] = [
        [homeOne, oneStart, oneRss],
        [homeMany, manyStart, manyRss],
      ];
      if (r % 2 === 1) order.reverse();
      for (const [home, times, rss] of order) {
        const d = await startDaemonProcess(home);
        times.push(d.readyMs);
        await sleep(100);
        rss.push(procMemory(d.pid)?.rssMB ?? Number.NaN);
        await d.stop();
      }
    }
    log(`  1 credential ${round(median(oneStart), 0)} ms, ${n} credentials ${round(median(manyStart), 0)} ms`);
  }

  // ---- token.get latency: echo floor, 1 credential, N credentials; interleaved rounds
  const dOne: DaemonProc = await startDaemonProcess(homeOne);
  const dMany: DaemonProc = await startDaemonProcess(homeMany);
  const echoHome = makeHome('echo');
  const resultFile = join(echoHome.root, 'result.json');
  writeFileSync(resultFile, JSON.stringify(await sampleResult(homeOne.paths.socket, fakeServerUrl(0))));
  const echo = await startReadyProcess([join(BENCH_DIST, 'echo-server.js'), echoHome.paths.socket, resultFile], 'echo ready');
  const echoManyHome = makeHome('echon');
  const echoMany = await startReadyProcess([join(BENCH_DIST, 'echo-server.js'), echoManyHome.paths.socket, resultFile, String(n)], 'echo ready');
  const loader = new RpcChild(join(BENCH_DIST, 'load-client.js'), [], childNodeArgs);
  await loader.whenReady();
  const targets: Record<Subject, { socket: string; count: number; pid: number }> = {
    echo: { socket: echoHome.paths.socket, count: 1, pid: echo.pid },
    echoN: { socket: echoManyHome.paths.socket, count: n, pid: echoMany.pid },
    daemon1: { socket: homeOne.paths.socket, count: 1, pid: dOne.pid },
    daemonN: { socket: homeMany.paths.socket, count: n, pid: dMany.pid },
  };
  const clkTck = clockTicks();
  const subjects: Subject[] = only.has('latency') ? ['echo', 'echoN', 'daemon1', 'daemonN'] : only.has('scale') ? ['echoN', 'daemon1', 'daemonN'] : [];
  const modes: [Mode, number][] = [
    ['seq', 1],
    ['conc', config.concurrency],
  ];
  const raw: Record<Mode, Partial<Record<Subject, LoadResult[]>>> = { seq: {}, conc: {} };
  const loadArgs = (subject: Subject, clients: number, durationMs: number): LoadArgs => {
    const t = targets[subject];
    return { socket: t.socket, clients, warmupMs: config.warmupMs, durationMs, template: FAKE_SERVER_URL_TEMPLATE, count: t.count, serverPid: t.pid, clkTck };
  };
  try {
    // Unrecorded warm-up of every server: JIT, and the daemon's record cache,
    // so the rounds measure the steady state (start-up is measured above).
    for (const subject of subjects) await loader.call<LoadResult>('load', loadArgs(subject, config.concurrency, quick ? 50 : 1500));
    for (let r = 0; r < config.rounds; r++) {
      for (const [mode, clients] of modes) {
        // Rotate the order every round so no subject always runs first or last.
        const order = subjects.map((_, i) => subjects[(i + r) % subjects.length] as Subject);
        for (const subject of order) {
          const result = await loader.call<LoadResult>('load', loadArgs(subject, clients, config.durationMs));
          (raw[mode][subject] ??= []).push(result);
          if (result.errors > 0) log(`  ${subject} ${mode}: ${result.errors} errors, first: ${result.firstError}`);
        }
      }
      log(`round ${r + 1}/${config.rounds}: ${subjects.map((s) => `${s} ${round(raw.conc[s]?.at(-1)?.rps ?? 0, 0)}/s`).join(', ')} (${config.concurrency} clients)`);
    }
    const latency: Record<Mode, Partial<Record<Subject, Measured>>> = { seq: {}, conc: {} };
    for (const [mode] of modes) for (const s of subjects) latency[mode][s] = measured(raw[mode][s] ?? []);
    if (only.has('latency')) results.latency = latency;

    const afterLoadOne = procMemory(dOne.pid);
    const afterLoadMany = procMemory(dMany.pid);

    // ---- 2. the CLI as a whole process, against Node's own start-up
    if (only.has('cli')) {
      log(`mcpauthd token and status --json vs node -e 0, ${config.cliRuns} runs each...`);
      results.cli = runCli(homeOne, config);
      log(`  node -e 0 ${round(results.cli.nodeMs, 1)} ms, mcpauthd token ${round(results.cli.cliMs, 1)} ms (x${round(results.cli.ratio, 2)}), status --json ${round(results.cli.statusMs ?? Number.NaN, 1)} ms`);
    }

    if (only.has('scale')) {
      const hostOne = await hostView(homeOne, dOne, 1, loader, config);
      const hostMany = await hostView(homeMany, dMany, n, loader, config);
      results.scale = {
        credentials: n,
        plantMs: planted.ms,
        startup: { oneMs: median(oneStart), manyMs: median(manyStart), oneAll: oneStart, manyAll: manyStart },
        rss: {
          oneMB: median(oneRss),
          manyMB: median(manyRss),
          oneAfterLoadMB: afterLoadOne?.rssMB ?? Number.NaN,
          manyAfterLoadMB: afterLoadMany?.rssMB ?? Number.NaN,
          manyPeakMB: afterLoadMany?.hwmMB ?? Number.NaN,
        },
        timers: { one: hostOne.idle, many: hostMany.idle },
        inside: { one: hostOne, many: hostMany },
      };
      // Latency figures for the scale section come from the same interleaved rounds.
      results.latency ??= latency;
    }
  } finally {
    await loader.stop();
    await echo.stop();
    await echoMany.stop();
    await dOne.stop();
    await dMany.stop();
  }
}

/** Clock ticks per second for /proc/<pid>/stat. */
function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  return Number.isInteger(n) && n > 0 ? n : 100;
}
