/**
 * Numbers for the benchmark: percentiles, medians, and the percentile grid
 * the latency chart is drawn from. Pure functions.
 */

export interface LatencySummary {
  /** Samples. */
  n: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Linear interpolation between closest ranks; `sorted` ascending, non-empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = Math.min(Math.max(q, 0), 1) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = sortedCopy(values);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    p999: quantile(sorted, 0.999),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  return quantile(sortedCopy(finite), 0.5);
}

/**
 * The chart's x axis: "nines". x = log10(1 / (1 - q)), so x = 0 is the
 * minimum, 1 is p90, 2 is p99, 3 is p99.9 (HdrHistogram's percentile plot).
 */
export const GRID_MAX_NINES = 3;
export const GRID_STEPS_PER_NINE = 40;

export function gridQuantiles(): number[] {
  const qs: number[] = [];
  for (let k = 0; k <= GRID_MAX_NINES * GRID_STEPS_PER_NINE; k++) qs.push(1 - 10 ** (-k / GRID_STEPS_PER_NINE));
  return qs;
}

/** Latency at every grid quantile, from unsorted samples. */
export function latencyGrid(values: ArrayLike<number>): number[] {
  const sorted = sortedCopy(values);
  return gridQuantiles().map((q) => quantile(sorted, q));
}

/** Point-wise median of several grids of the same length (one per round). */
export function medianGrid(grids: readonly number[][]): number[] {
  const length = Math.min(...grids.map((g) => g.length));
  const out: number[] = [];
  for (let i = 0; i < length; i++) out.push(median(grids.map((g) => g[i] as number)));
  return out;
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
