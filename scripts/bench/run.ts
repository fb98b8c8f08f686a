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
 *      due at once;
 *   5. encryption at rest (sealing.ts): start-up on a sealed database, and
 *      the store and token.get sealed against plaintext and the echo floor.
 *
 * Every subject and its baseline alternate within each round and the rounds
 * repeat; the figures are medians over rounds, because the machine may be busy.
 * Prints a table, writes JSON (scripts/bench/results.json) and an SVG chart of
 * the latency distributions (docs/benchmarks-latency.svg).
 *
 * This file is the orchestrator (options, order, output files); sections live
 * in hot-path.ts (1 and 3, with scale.ts), cli-timings.ts (2), storm.ts (4),
 * and the table and chart in report.ts.
 *
 *   node dist/scripts/bench/run.js [--quick] [--only latency,cli,scale,storm,sealing,audit]
 *     [--rounds N] [--duration-ms N] [--credentials N] [--storm N] [--cli-runs N]
 *     [--json PATH] [--svg PATH]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { VERSION } from '../../shared/version.js';
import { childNodeArgs, killAllChildren, REPO_ROOT, removeAllHomes, serverNodeArgs } from './common.js';
import { runLatencyAndScale } from './hot-path.js';
import { buildReport, chart, table } from './report.js';
import { SECTIONS, type BenchConfig, type BenchContext, type Results, type Section } from './results-shape.js';
import { round } from './stats.js';
import { runStorm } from './storm.js';
import { runSealing } from './sealing.js';
import { runAuditCost } from './audit-cost.js';

// ---------------------------------------------------------------- options

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
    'usage: npm run bench -- [--quick] [--only latency,cli,scale,storm,sealing,audit] [--rounds N] [--duration-ms N]\n' +
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
const config: BenchConfig = {
  quick,
  rounds: int(argv.rounds, quick ? 1 : 8),
  warmupMs: quick ? 50 : 300,
  durationMs: int(argv['duration-ms'], quick ? 150 : 1500),
  concurrency: int(argv.concurrency, 50),
  credentials: int(argv.credentials, quick ? 200 : 10_000),
  stormCredentials: int(argv.storm, quick ? 5 : 1000),
  cliRuns: int(argv['cli-runs'], quick ? 2 : 60),
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

const ctx: BenchContext = { config, results, only, log };

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  process.umask(0o077);
  const earlier = argv['from-json'];
  if (earlier !== undefined) {
    const loaded = JSON.parse(readFileSync(resolve(earlier), 'utf8')) as Results;
    Object.assign(results, loaded, { targets: [] });
    Object.assign(config, loaded.config);
    const rows = buildReport(results, config);
    const svg = chart(results, config);
    if (svg !== undefined) writeFileSync(svgPath, svg);
    process.stdout.write(`\n${table(rows)}\n\n${svg === undefined ? '' : `chart: ${svgPath}\n`}`);
    return;
  }
  log(`mcpauthd bench${quick ? ' (quick)' : ''}: ${[...only].join(', ')}; ${JSON.stringify(results.machine)}`);
  if (only.has('latency') || only.has('cli') || only.has('scale')) await runLatencyAndScale(ctx);
  if (only.has('sealing')) results.sealing = await runSealing(ctx);
  if (only.has('audit')) {
    log(`token.get with the audit trail on vs off, ${config.concurrency} clients...`);
    results.audit = await runAuditCost(ctx);
  }
  if (only.has('storm')) {
    log(`refresh storm: ${config.stormCredentials} real logins, then all due at once...`);
    results.storm = await runStorm({ credentials: config.stormCredentials, loginConcurrency: 8, wakeRounds: config.wakeRounds, drainTimeoutMs: quick ? 60_000 : 600_000, log });
  }
  const rows = buildReport(results, config);
  results.finishedAt = new Date().toISOString();
  results.machine['loadavgAtEnd'] = loadavg().map((v) => round(v, 2));
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  const svg = chart(results, config);
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
