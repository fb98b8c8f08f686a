/**
 * `npm run bench`: mcpauthd against baselines measured in the same run.
 *
 *   1. token.get over the socket (1 client, 50 clients) vs a bare node-ipc
 *      echo server with the daemon's exact parser profile and payload size;
 *   2. `mcpauthd token <url>` and `mcpauthd status --json` as whole processes
 *      (the bin, as users run them) vs `node -e 0`;
 *   3. a daemon holding 10,000 credentials vs one holding 1: start-up, memory,
 *      timers, token.get tail latency;
 *   4. a refresh storm against a real authorization server: 1,000 credentials
 *      due at once.
 *
 * Every subject and its baseline alternate within each round and the rounds
 * repeat; the figures are medians over rounds, because the machine may be busy.
 * Prints a table, writes JSON (scripts/bench/results.json) and an SVG chart of
 * the latency distributions (docs/benchmarks-latency.svg).
 *
 *   node dist/scripts/bench/run.js [--quick] [--only latency,cli,scale,storm]
 *     [--rounds N] [--duration-ms N] [--credentials N] [--storm N] [--cli-runs N]
 *     [--json PATH] [--svg PATH]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '../../client/connection.js';
import { VERSION } from '../../shared/version.js';
import {
  BENCH_DIST,
  childNodeArgs,
  daemonHostExecArgv,
  serverNodeArgs,
  BIN,
  FAKE_SERVER_URL_TEMPLATE,
  REPO_ROOT,
  fakeServerUrl,
  killAllChildren,
  makeHome,
  plantCredentials,
  procMemory,
  removeAllHomes,
  sleep,
  startDaemonProcess,
  startReadyProcess,
  type BenchHome,
  type DaemonProc,
} from './common.js';
import type { HostMetrics } from './daemon-host.js';
import type { LoadArgs, LoadResult } from './load-client.js';
import { RpcChild } from './rpc.js';
import { latencyGrid, median, medianGrid, round } from './stats.js';
import { runStorm, type StormResult } from './storm.js';
import { renderPercentileChart, type Panel } from './svg.js';

// ---------------------------------------------------------------- options

const SECTIONS = ['latency', 'cli', 'scale', 'storm'] as const;
type Section = (typeof SECTIONS)[number];

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    'duration-ms': { type: 'string' },
    credentials: { type: 'string' },
    storm: { type: 'string' },
    'cli-runs': { type: 'string' },
    'startup-runs': { type: 'string' },
    'wake-rounds': { type: 'string' },
    concurrency: { type: 'string' },
    json: { type: 'string' },
    svg: { type: 'string' },
    'from-json': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'node-args': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (argv.help === true) {
  process.stdout.write(
    'usage: npm run bench -- [--quick] [--only latency,cli,scale,storm] [--rounds N] [--duration-ms N]\n' +
      '         [--credentials N] [--storm N] [--cli-runs N] [--startup-runs N] [--wake-rounds N] [--concurrency N]\n' +
      '         [--json PATH] [--svg PATH] [--from-json PATH (redraw the table and chart of an earlier run)]\n' +
      '         [--cpu-prof DIR (a V8 CPU profile of each daemon, echo server and load client)]\n' +
      '         [--node-args="FLAGS" (Node/V8 flags for every daemon and echo server, e.g. --node-args=--max-semi-space-size=2)]\n',
  );
  process.exit(0);
}

const quick = argv.quick === true;
const int = (value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number.parseInt(value, 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${value}`);
  return n;
};
const config = {
  quick,
  rounds: int(argv.rounds, quick ? 1 : 8),
  warmupMs: quick ? 50 : 300,
  durationMs: int(argv['duration-ms'], quick ? 150 : 1500),
  concurrency: int(argv.concurrency, 50),
  credentials: int(argv.credentials, quick ? 200 : 10_000),
  stormCredentials: int(argv.storm, quick ? 5 : 1000),
  cliRuns: int(argv['cli-runs'], quick ? 2 : 30),
  startupRuns: int(argv['startup-runs'], quick ? 1 : 5),
  wakeRounds: int(argv['wake-rounds'], quick ? 2 : 3),
};
const only = new Set<Section>(
  (argv.only ?? SECTIONS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is Section => {
      if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only takes ${SECTIONS.join(', ')}; got ${s}`);
      return true;
    }),
);
// Latency and scale share their daemons; either needs both homes.
const jsonPath = resolve(argv.json ?? join(REPO_ROOT, 'scripts', 'bench', 'results.json'));
const svgPath = resolve(argv.svg ?? join(REPO_ROOT, 'docs', 'benchmarks-latency.svg'));

if (argv['node-args'] !== undefined) serverNodeArgs.push(...argv['node-args'].split(' ').filter((a) => a !== ''));
if (argv['cpu-prof'] !== undefined) childNodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(argv['cpu-prof'])}`);

const log = (line: string) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------- result shapes

interface Measured {
  rounds: LoadResult[];
  /** Medians over rounds. */
  p50: number;
  p99: number;
  p999: number;
  rps: number;
  errors: number;
  grid: number[];
  /** Server CPU per request (µs) and share of a core; client's share of a core. Medians over rounds. */
  serverCpuUs: number;
  serverCpuShare: number;
  clientCpuShare: number;
}

type Subject = 'echo' | 'echoN' | 'daemon1' | 'daemonN';
type Mode = 'seq' | 'conc';

interface Results {
  tool: string;
  version: string;
  startedAt: string;
  finishedAt?: string;
  machine: Record<string, unknown>;
  config: typeof config;
  latency?: Record<Mode, Partial<Record<Subject, Measured>>>;
  cli?: {
    runs: number;
    nodeMs: number;
    cliMs: number;
    versionMs: number;
    ratio: number;
    nodeAll: number[];
    cliAll: number[];
    versionAll: number[];
    /** `mcpauthd status --json` (absent in results written before it was measured). */
    statusMs?: number;
    statusAll?: number[];
  };
  scale?: {
    credentials: number;
    plantMs: number;
    startup: { oneMs: number; manyMs: number; oneAll: number[]; manyAll: number[] };
    rss: { oneMB: number; manyMB: number; oneAfterLoadMB: number; manyAfterLoadMB: number; manyPeakMB: number };
    timers: { one: HostMetrics; many: HostMetrics };
    /** In-process view: idle after GC, during a load touching every credential, after a full GC. */
    inside: { one: HostView; many: HostView };
  };
  storm?: StormResult;
  targets: Target[];
}

interface HostView {
  idle: HostMetrics;
  underLoad: HostMetrics;
  afterGc: HostMetrics;
  /** Median cost of the scheduler's two queries per pump, µs. */
  pump: { nextDueAtUs: number; dueForRefreshUs: number };
  loadRps: number;
}

interface Target {
  name: string;
  value: string;
  target: string;
  met: boolean | null;
}

const machine = () => ({
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGB: round(totalmem() / 1e9, 1),
  os: `${platform()} ${release()}`,
  node: process.version,
  loadavg: loadavg().map((v) => round(v, 2)),
});

const results: Results = {
  tool: 'mcpauthd bench',
  version: VERSION,
  startedAt: new Date().toISOString(),
  machine: machine(),
  config,
  targets: [],
};

// ---------------------------------------------------------------- sections

/**
 * Median over rounds of a per-round ratio: subject and baseline ran back to
 * back within each round, so a burst of load elsewhere hits both and cancels.
 */
function pairedRatio(subject: Measured, baseline: Measured, pick: (r: LoadResult) => number): number {
  const n = Math.min(subject.rounds.length, baseline.rounds.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(pick(subject.rounds[i] as LoadResult) / pick(baseline.rounds[i] as LoadResult));
  return median(ratios);
}

function measured(rounds: LoadResult[]): Measured {
  return {
    rounds,
    p50: median(rounds.map((r) => r.latency.p50)),
    p99: median(rounds.map((r) => r.latency.p99)),
    p999: median(rounds.map((r) => r.latency.p999)),
    rps: median(rounds.map((r) => r.rps)),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    grid: medianGrid(rounds.map((r) => r.grid)),
    serverCpuUs: median(rounds.map((r) => r.serverCpuUsPerRequest ?? Number.NaN)),
    serverCpuShare: median(rounds.map((r) => r.serverCpuShare ?? Number.NaN)),
    clientCpuShare: median(rounds.map((r) => r.clientCpuShare)),
  };
}

/** The token.get answer for `url`, to give the echo server a payload of the same size. */
async function sampleResult(socket: string, url: string): Promise<unknown> {
  const c = new Connection(socket);
  try {
    return await c.request('token.get', { server_url: url });
  } finally {
    c.close();
  }
}

async function runLatencyAndScale(): Promise<void> {
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
      results.cli = runCli(homeOne);
      log(`  node -e 0 ${round(results.cli.nodeMs, 1)} ms, mcpauthd token ${round(results.cli.cliMs, 1)} ms (x${round(results.cli.ratio, 2)}), status --json ${round(results.cli.statusMs ?? Number.NaN, 1)} ms`);
    }

    if (only.has('scale')) {
      const hostOne = await hostView(homeOne, dOne, 1, loader);
      const hostMany = await hostView(homeMany, dMany, n, loader);
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

function runCli(home: BenchHome): NonNullable<Results['cli']> {
  const env = { ...home.env };
  const url = fakeServerUrl(0);
  const time = (args: string[], check?: (out: string) => boolean): number => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.status !== 0 || (check !== undefined && !check(r.stdout))) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return ms;
  };
  const nodeAll: number[] = [];
  const cliAll: number[] = [];
  const statusAll: number[] = [];
  const versionAll: number[] = [];
  // One unmeasured run of each warms the file cache.
  time(['-e', '0']);
  time([BIN, 'token', url]);
  time([BIN, 'status', '--json']);
  // Through the bin, as users and headers helpers run them; --version takes the ESM path.
  const runs: [number[], string[], ((out: string) => boolean) | undefined][] = [
    [nodeAll, ['-e', '0'], undefined],
    [cliAll, [BIN, 'token', url], (out) => out.startsWith('eyJ')],
    [statusAll, [BIN, 'status', '--json'], (out) => out.includes('"credentials"')],
    [versionAll, [BIN, '--version'], undefined],
  ];
  for (let i = 0; i < config.cliRuns; i++) {
    const order = runs.map((_, k) => runs[(k + i) % runs.length] as (typeof runs)[number]);
    for (const [into, args, check] of order) into.push(time(args, check));
  }
  const nodeMs = median(nodeAll);
  const cliMs = median(cliAll);
  return { runs: config.cliRuns, nodeMs, cliMs, versionMs: median(versionAll), ratio: cliMs / nodeMs, nodeAll, cliAll, versionAll, statusMs: median(statusAll), statusAll };
}

/**
 * The daemon's insides (scheduler timers, Node's active handles, heap, the
 * cost of a scheduler pump) in a forked host on the same state directory. The
 * CLI daemon on that directory is stopped first (one daemon per directory).
 * Then a load that asks for every credential at random, to see the memory of
 * a daemon whose whole record cache is filled: during the load, and after a
 * full GC (what is really held, as opposed to garbage V8 has not collected).
 */
async function hostView(home: BenchHome, running: DaemonProc, count: number, loader: RpcChild): Promise<HostView> {
  await running.stop();
  const host = new RpcChild(join(BENCH_DIST, 'daemon-host.js'), [home.paths.home, home.paths.socket], daemonHostExecArgv());
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

// ---------------------------------------------------------------- report

const fmtMs = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v < 1 ? `${round(v * 1000, 0)} µs` : `${round(v, v < 10 ? 2 : 1)} ms`);
const fmtN = (v: number | undefined, d = 0) => (v === undefined || !Number.isFinite(v) ? 'n/a' : round(v, d).toLocaleString('en-US'));
const fmtX = (v: number) => (Number.isFinite(v) ? `${round(v, 2)}x` : 'n/a');

interface Row {
  measure: string;
  subject: string;
  baseline: string;
  ratio: string;
  target: string;
  met: string;
}

function buildReport(): Row[] {
  const rows: Row[] = [];
  const add = (measure: string, subject: string, baseline: string, ratio: string, target = '', met: boolean | null = null) => {
    rows.push({ measure, subject, baseline, ratio, target, met: met === null ? '' : met ? 'yes' : 'NO' });
    if (target !== '') results.targets.push({ name: measure, value: `${subject}${ratio === '' ? '' : ` (${ratio})`}`, target, met });
  };
  const L = results.latency;
  // The two load shapes every latency row is reported for.
  const modes: [Mode, string][] = [
    ['seq', '1 client'],
    ['conc', `${config.concurrency} clients`],
  ];
  if (L !== undefined) {
    for (const [mode, label] of modes) {
      const d = L[mode].daemon1;
      const e = L[mode].echo;
      if (d === undefined) continue;
      if (e !== undefined) {
        const rpsRatio = pairedRatio(d, e, (r) => r.rps);
        add(`token.get ${label}: p50`, fmtMs(d.p50), fmtMs(e.p50), fmtX(pairedRatio(d, e, (r) => r.latency.p50)));
        add(`token.get ${label}: p99`, fmtMs(d.p99), fmtMs(e.p99), fmtX(pairedRatio(d, e, (r) => r.latency.p99)), '< 2 ms', d.p99 < 2);
        if (Number.isFinite(d.serverCpuUs)) {
          add(
            `token.get ${label}: server CPU per request`,
            `${fmtN(d.serverCpuUs, 1)} µs (${fmtN(d.serverCpuShare * 100, 0)}% of a core)`,
            `${fmtN(e.serverCpuUs, 1)} µs (${fmtN(e.serverCpuShare * 100, 0)}%)`,
            fmtX(pairedRatio(d, e, (r) => r.serverCpuUsPerRequest ?? Number.NaN)),
          );
        }
        add(
          `token.get ${label}: requests/s`,
          `${fmtN(d.rps)} (load client at ${fmtN(d.clientCpuShare * 100, 0)}% of a core)`,
          `${fmtN(e.rps)} (${fmtN(e.clientCpuShare * 100, 0)}%)`,
          `${round(rpsRatio * 100, 0)}%`,
          mode === 'conc' ? '>= 80% of floor' : '',
          mode === 'conc' ? rpsRatio >= 0.8 : null,
        );
      }
    }
  }
  const C = results.cli;
  if (C !== undefined) {
    add('`mcpauthd token` process (median)', fmtMs(C.cliMs), `${fmtMs(C.nodeMs)} (node -e 0)`, fmtX(C.ratio), '<= 1.15x', C.ratio <= 1.15);
    if (C.statusMs !== undefined) {
      add('`mcpauthd status --json` process (median)', fmtMs(C.statusMs), `${fmtMs(C.nodeMs)} (node -e 0)`, fmtX(C.statusMs / C.nodeMs), '<= 1.15x', C.statusMs / C.nodeMs <= 1.15);
    }
    add('`mcpauthd --version` process (median)', fmtMs(C.versionMs), `${fmtMs(C.nodeMs)} (node -e 0)`, fmtX(C.versionMs / C.nodeMs));
  }
  const S = results.scale;
  if (S !== undefined && L !== undefined) {
    const n = fmtN(S.credentials);
    add(`start-up, ${n} credentials (spawn → ready)`, fmtMs(S.startup.manyMs), `${fmtMs(S.startup.oneMs)} (1 cred.)`, fmtX(S.startup.manyMs / S.startup.oneMs), '< 1 s', S.startup.manyMs < 1000);
    add(`resident memory, ${n} credentials, idle`, `${fmtN(S.rss.manyMB, 1)} MB`, `${fmtN(S.rss.oneMB, 1)} MB (1 cred.)`, fmtX(S.rss.manyMB / S.rss.oneMB), '< 120 MB', S.rss.manyMB < 120);
    add(`resident memory, ${n} credentials, after load (peak)`, `${fmtN(S.rss.manyAfterLoadMB, 1)} MB (${fmtN(S.rss.manyPeakMB, 1)})`, `${fmtN(S.rss.oneAfterLoadMB, 1)} MB (1 cred.)`, '');
    const tm = S.timers.many;
    const to = S.timers.one;
    add(
      `scheduler timers, ${n} credentials`,
      `${tm.schedulerTimers} (1 wake-up + 1 sweep)`,
      `${to.schedulerTimers} (1 cred.)`,
      '',
      'constant (one wake-up)',
      tm.schedulerTimers === to.schedulerTimers && tm.schedulerTimers <= 2,
    );
    const handles = (m: HostMetrics) => Object.values(m.activeResources).reduce((a, b) => a + b, 0);
    add(
      `Node active resources (of which Timeout), ${n} credentials`,
      `${handles(tm)} (${tm.activeTimeouts})`,
      `${handles(to)} (${to.activeTimeouts}) (1 cred.)`,
      '',
      'same as 1 credential',
      handles(tm) === handles(to) && tm.activeTimeouts === to.activeTimeouts,
    );
    add(`heap after GC, idle, ${n} credentials`, `${fmtN(tm.heapUsedMB, 1)} MB`, `${fmtN(to.heapUsedMB, 1)} MB (1 cred.)`, fmtX(tm.heapUsedMB / to.heapUsedMB));
    const im = S.inside.many;
    const io = S.inside.one;
    add(
      `resident memory, every one of ${n} credentials asked for (during load → after full GC)`,
      `${fmtN(im.underLoad.rssMB, 1)} → ${fmtN(im.afterGc.rssMB, 1)} MB (heap ${fmtN(im.afterGc.heapUsedMB, 1)} MB)`,
      `${fmtN(io.underLoad.rssMB, 1)} → ${fmtN(io.afterGc.rssMB, 1)} MB (1 cred.)`,
      '',
      '< 120 MB (after GC)',
      im.afterGc.rssMB < 120,
    );
    add(
      `scheduler pump (nextDueAt + dueForRefresh), ${n} credentials`,
      `${fmtN(im.pump.nextDueAtUs + im.pump.dueForRefreshUs, 1)} µs`,
      `${fmtN(io.pump.nextDueAtUs + io.pump.dueForRefreshUs, 1)} µs (1 cred.)`,
      fmtX((im.pump.nextDueAtUs + im.pump.dueForRefreshUs) / (io.pump.nextDueAtUs + io.pump.dueForRefreshUs)),
    );
    for (const [mode, label] of modes) {
      const many = L[mode].daemonN;
      const one = L[mode].daemon1;
      if (many === undefined || one === undefined) continue;
      const ratio = pairedRatio(many, one, (r) => r.latency.p99);
      add(`token.get p99, ${n} credentials, ${label}`, fmtMs(many.p99), `${fmtMs(one.p99)} (1 cred.)`, fmtX(ratio), '<= 1.2x', ratio <= 1.2);
      const echoOne = L[mode].echo;
      const echoMany = L[mode].echoN;
      if (echoMany !== undefined) {
        add(
          `  the same for the floor: echo with ${n} distinct answers, ${label}`,
          `${fmtMs(echoMany.p99)} p99, ${fmtN(echoMany.rps)}/s`,
          echoOne === undefined ? '' : `${fmtMs(echoOne.p99)} p99, ${fmtN(echoOne.rps)}/s (1 answer)`,
          echoOne === undefined ? '' : `${fmtX(pairedRatio(echoMany, echoOne, (r) => r.latency.p99))} p99, ${fmtN(pairedRatio(echoMany, echoOne, (r) => r.rps) * 100, 0)}% req/s`,
        );
        add(
          `  mcpauthd ${n} credentials against that floor, ${label}`,
          `${fmtN(many.rps)}/s`,
          `${fmtN(echoMany.rps)}/s`,
          `${fmtN(pairedRatio(many, echoMany, (r) => r.rps) * 100, 0)}% req/s, ${fmtX(pairedRatio(many, echoMany, (r) => r.latency.p99))} p99`,
        );
      }
    }
  }
  const T = results.storm;
  if (T !== undefined) {
    add(`storm: logins to set up (${T.login.concurrency} at once)`, `${fmtN(T.login.count)} in ${fmtN(T.login.totalMs / 1000, 1)} s`, `p50 ${fmtMs(T.login.p50Ms)} each`, `${fmtN(T.login.perSec, 1)}/s`);
    const wakes = T.rounds.filter((r) => r.kind === 'wake');
    const restart = T.rounds.find((r) => r.kind === 'restart');
    if (wakes.length > 0) {
      const drains = wakes.map((r) => r.drainMs);
      add(
        `storm, running daemon, ${fmtN(T.credentials)} due at once: drain (median of ${wakes.length})`,
        `${fmtN(median(drains) / 1000, 2)} s`,
        `concurrency ${T.refreshConcurrency}, peak in flight ${Math.max(...wakes.map((r) => r.peakInFlight ?? 0))}; each: ${drains.map((d) => fmtN(d / 1000, 2)).join(', ')} s`,
        `${fmtN(median(wakes.map((r) => r.refreshesPerSec)), 0)}/s`,
      );
      const lost = wakes.reduce((a, r) => a + r.lost, 0);
      const replays = wakes.reduce((a, r) => a + r.duplicatePresentations, 0);
      add(
        `storm, running daemon: lost credentials (${wakes.length} storms)`,
        `${lost}`,
        `${wakes.reduce((a, r) => a + r.refreshOk, 0)}/${wakes.reduce((a, r) => a + r.refreshRequests, 0)} refreshes answered 200, ${replays} refresh tokens presented twice`,
        '',
        '0',
        lost === 0 && replays === 0,
      );
      const first = wakes[0] as (typeof wakes)[number];
      const last = wakes[wakes.length - 1] as (typeof wakes)[number];
      const cold = first.baseline as NonNullable<typeof first.baseline>;
      // The first storm JIT-compiles the refresh path (code space) once; the
      // baseline for "back to" is the daemon after it, and later storms must not add to it.
      const back = last.after.heapUsedMB <= first.after.heapUsedMB * 1.1 + 0.5;
      add(
        'storm: heap after full GC, idle → after each storm (peak during)',
        `${fmtN(cold.heapUsedMB, 1)} → ${wakes.map((r) => fmtN(r.after.heapUsedMB, 1)).join(' → ')} MB (peak ${fmtN(Math.max(...wakes.map((r) => r.peak.heapUsedMB ?? 0)), 1)})`,
        `RSS ${fmtN(cold.rssMB, 1)} → ${wakes.map((r) => fmtN(r.after.rssMB, 1)).join(' → ')} MB (peak ${fmtN(Math.max(...wakes.map((r) => r.peak.rssMB)), 1)})`,
        fmtX(last.after.heapUsedMB / first.after.heapUsedMB),
        'heap back to baseline after each storm (≤ +10% of the warm daemon)',
        back,
      );
    }
    if (restart !== undefined) {
      add(`storm, restart with ${fmtN(restart.credentials)} due: spawn → all refreshed`, `${fmtN(restart.drainMs / 1000, 2)} s`, `concurrency ${T.refreshConcurrency}`, `${fmtN(restart.refreshesPerSec, 0)}/s`);
      add(
        'storm, restart: lost credentials',
        `${restart.lost}`,
        `${restart.refreshOk}/${restart.refreshRequests} refreshes answered 200, ${restart.duplicatePresentations} presented twice`,
        '',
        '0',
        restart.lost === 0 && restart.duplicatePresentations === 0,
      );
      add('storm, restart: memory', `RSS peak ${fmtN(restart.peak.rssMB, 1)} MB`, `after full GC: RSS ${fmtN(restart.after.rssMB, 1)} MB, heap ${fmtN(restart.after.heapUsedMB, 1)} MB`, '');
    }
  }
  return rows;
}

function table(rows: Row[]): string {
  const head: Row = { measure: 'measure', subject: 'mcpauthd', baseline: 'baseline (same run)', ratio: 'ratio', target: 'target', met: 'met' };
  const cols = Object.keys(head) as (keyof Row)[];
  const line = (r: Row) => `| ${cols.map((c) => r[c]).join(' | ')} |`;
  return [line(head), `|${cols.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function chart(): string | undefined {
  const L = results.latency;
  if (L === undefined) return undefined;
  const colors: Record<Subject, [string, string | undefined]> = {
    echo: ['#888888', '4 3'],
    echoN: ['#e6a0a0', '4 3'],
    daemon1: ['#1f77b4', undefined],
    daemonN: ['#d62728', undefined],
  };
  const N = fmtN(config.credentials);
  const names: Record<Subject, string> = {
    echo: 'node-ipc echo (floor)',
    echoN: `echo, ${N} distinct answers`,
    daemon1: 'mcpauthd, 1 credential',
    daemonN: `mcpauthd, ${N} credentials`,
  };
  const name = (s: Subject) => names[s];
  const panels: Panel[] = (
    [
      ['seq', 'token.get, 1 client (sequential)'],
      ['conc', `token.get, ${config.concurrency} concurrent clients`],
    ] as [Mode, string][]
  ).map(([mode, title]) => ({
    title,
    series: (['echo', 'echoN', 'daemon1', 'daemonN'] as Subject[])
      .filter((s) => L[mode][s] !== undefined)
      .map((s) => {
        const [color, dash] = colors[s];
        return { name: name(s), color, ...(dash === undefined ? {} : { dash }), grid: (L[mode][s] as Measured).grid };
      }),
  }));
  const C = results.cli;
  if (C !== undefined) {
    panels.push({
      title: 'whole process, spawn → exit',
      series: [
        { name: 'node -e 0', color: '#888888', dash: '4 3', grid: latencyGrid(C.nodeAll) },
        { name: 'mcpauthd token <url>', color: '#1f77b4', grid: latencyGrid(C.cliAll) },
        ...(C.statusAll === undefined ? [] : [{ name: 'mcpauthd status --json', color: '#2ca02c', grid: latencyGrid(C.statusAll) }]),
      ],
    });
  }
  const m = results.machine;
  return renderPercentileChart({
    title: 'mcpauthd latency distributions (median of rounds at each percentile)',
    subtitle: `${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${String(m['node'])}, load average ${(m['loadavg'] as number[]).join(' ')} at start; ${results.startedAt}`,
    panels,
  });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  process.umask(0o077);
  const earlier = argv['from-json'];
  if (earlier !== undefined) {
    const loaded = JSON.parse(readFileSync(resolve(earlier), 'utf8')) as Results;
    Object.assign(results, loaded, { targets: [] });
    Object.assign(config, loaded.config);
    const rows = buildReport();
    const svg = chart();
    if (svg !== undefined) writeFileSync(svgPath, svg);
    process.stdout.write(`\n${table(rows)}\n\n${svg === undefined ? '' : `chart: ${svgPath}\n`}`);
    return;
  }
  log(`mcpauthd bench${quick ? ' (quick)' : ''}: ${[...only].join(', ')}; ${JSON.stringify(results.machine)}`);
  if (only.has('latency') || only.has('cli') || only.has('scale')) await runLatencyAndScale();
  if (only.has('storm')) {
    log(`refresh storm: ${config.stormCredentials} real logins, then all due at once...`);
    results.storm = await runStorm({ credentials: config.stormCredentials, loginConcurrency: 8, wakeRounds: config.wakeRounds, drainTimeoutMs: quick ? 60_000 : 600_000, log });
  }
  const rows = buildReport();
  results.finishedAt = new Date().toISOString();
  results.machine['loadavgAtEnd'] = loadavg().map((v) => round(v, 2));
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  const svg = chart();
  if (svg !== undefined) {
    mkdirSync(dirname(svgPath), { recursive: true });
    writeFileSync(svgPath, svg);
  }
  process.stdout.write(`\n${table(rows)}\n\n`);
  process.stdout.write(`machine: ${JSON.stringify(results.machine)}\nresults: ${jsonPath}${svg === undefined ? '' : `\nchart:   ${svgPath}`}\n`);
}

const cleanup = () => {
  killAllChildren();
  removeAllHomes();
};
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    cleanup();
    process.exit(1);
  },
);
