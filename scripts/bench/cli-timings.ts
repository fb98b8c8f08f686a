/**
 * Bench section 2: `mcpauthd token <url>`, `status --json` and `--version`
 * as whole processes through the bin, as users run them, against `node -e 0`,
 * interleaved so a busy machine slows all of them alike. The ratios are the
 * median of each round's own ratio (the commands of a round run back to
 * back), which a machine whose speed drifts during the run moves less than a
 * ratio of medians taken over the whole run.
 */
import { spawnSync } from 'node:child_process';
import { BIN, fakeServerUrl, type BenchHome } from './common.js';
import type { BenchConfig, Results } from './results-shape.js';
import { median } from './stats.js';

export function runCli(home: BenchHome, config: BenchConfig): NonNullable<Results['cli']> {
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
  const paired = (all: number[]): number => median(all.map((ms, i) => ms / (nodeAll[i] as number)));
  return {
    runs: config.cliRuns,
    nodeMs: median(nodeAll),
    cliMs: median(cliAll),
    versionMs: median(versionAll),
    ratio: paired(cliAll),
    statusRatio: paired(statusAll),
    nodeAll,
    cliAll,
    versionAll,
    statusMs: median(statusAll),
    statusAll,
  };
}
