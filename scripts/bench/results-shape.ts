/**
 * The shapes a bench run produces (scripts/bench/results.json) and the two
 * figures every section derives from load rounds. Shared by the sections,
 * the report and run.ts.
 */
import type { HostMetrics } from './daemon-host.js';
import type { LoadResult } from './load-client.js';
import { median, medianGrid } from './stats.js';
import type { StormResult } from './storm.js';

export const SECTIONS = ['latency', 'cli', 'scale', 'storm', 'sealing', 'audit'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchConfig {
  quick: boolean;
  rounds: number;
  warmupMs: number;
  durationMs: number;
  concurrency: number;
  credentials: number;
  stormCredentials: number;
  cliRuns: number;
  startupRuns: number;
  wakeRounds: number;
}

/** What a section needs from the run: its settings, where to put figures, what to say. */
export interface BenchContext {
  config: BenchConfig;
  results: Results;
  only: Set<Section>;
  log: (line: string) => void;
}

export interface Measured {
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

export type Subject = 'echo' | 'echoN' | 'daemon1' | 'daemonN';
export type Mode = 'seq' | 'conc';

export interface Results {
  tool: string;
  version: string;
  startedAt: string;
  finishedAt?: string;
  machine: Record<string, unknown>;
  config: BenchConfig;
  latency?: Record<Mode, Partial<Record<Subject, Measured>>>;
  /** Encryption at rest (issue 17): sealing.ts. */
  sealing?: SealingResults;
  /** Section audit (audit-cost.ts): token.get with the audit trail on vs off, same run. */
  audit?: { clients: number; on: Measured; off: Measured; slowdownPct: number };
  cli?: {
    runs: number;
    nodeMs: number;
    cliMs: number;
    versionMs: number;
    /** `mcpauthd token` / `node -e 0`: the median of the rounds' ratios (a ratio of medians in results from before 2026-12-03). */
    ratio: number;
    /** The same for `status --json` (absent before 2026-12-03: then statusMs / nodeMs). */
    statusRatio?: number;
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

export interface HostView {
  idle: HostMetrics;
  underLoad: HostMetrics;
  afterGc: HostMetrics;
  /** Median cost of the scheduler's two queries per pump, µs. */
  pump: { nextDueAtUs: number; dueForRefreshUs: number };
  loadRps: number;
}

export interface Target {
  name: string;
  value: string;
  target: string;
  met: boolean | null;
}

/**
 * Median over rounds of a per-round ratio: subject and baseline ran back to
 * back within each round, so a burst of load elsewhere hits both and cancels.
 */
export function pairedRatio(subject: Measured, baseline: Measured, pick: (r: LoadResult) => number): number {
  const n = Math.min(subject.rounds.length, baseline.rounds.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(pick(subject.rounds[i] as LoadResult) / pick(baseline.rounds[i] as LoadResult));
  return median(ratios);
}

export function measured(rounds: LoadResult[]): Measured {
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

/** Bench section `sealing` (sealing.ts): what encryption at rest costs (issue 17). */
export interface SealingResults {
  credentials: number;
  /** First start on the plaintext database: every secret sealed in one transaction, then ready. */
  migrationStartMs: number;
  startup: { sealedManyMs: number; sealedOneMs: number; manyAll: number[]; oneAll: number[] };
  store: {
    /** Reading all N credentials from the database into records (cache cold), per credential, µs. */
    coldReadUs: { sealed: number; plaintext: number };
    /** Warm lookups by server URL (the record cache), per lookup, µs. */
    warmLookupUs: { sealed: number; plaintext: number };
  };
  tokenGet: { clients: number; sealedRps: number; echoRps: number; sealedP99Ms: number; echoP99Ms: number; rounds: { sealed: number; echo: number }[] };
}
