/**
 * A tiny SVG renderer for the benchmark's latency chart, no dependency:
 * percentile plots (HdrHistogram style) side by side, x = percentile on a
 * "nines" scale (min, p50, p90, p99, p99.9), y = latency on a log scale.
 */
import { GRID_MAX_NINES, GRID_STEPS_PER_NINE } from './stats.js';

export interface Series {
  name: string;
  color: string;
  dash?: string;
  /** Latency in ms at each quantile of stats.gridQuantiles(). */
  grid: number[];
}

export interface Panel {
  title: string;
  series: Series[];
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  panels: Panel[];
}

const PANEL_W = 430;
const PANEL_H = 300;
const M = { left: 62, right: 14, top: 30, bottom: 40 };
const HEADER = 46;
const FLOOR_MS = 0.001;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(n: number): string {
  return Number(n.toFixed(2)).toString();
}

/** 1-2-5 ticks covering [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)) + 1; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(Number(v.toPrecision(3)));
    }
  }
  return ticks;
}

function msLabel(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toPrecision(3))} s`;
  if (ms >= 1) return `${Number(ms.toPrecision(3))} ms`;
  return `${Number((ms * 1000).toPrecision(3))} µs`;
}

function panelSvg(panel: Panel, x0: number, y0: number): string {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const values = panel.series.flatMap((s) => s.grid).filter((v) => Number.isFinite(v) && v > 0);
  const rawLo = values.length === 0 ? 0.01 : Math.max(FLOOR_MS, Math.min(...values));
  const rawHi = values.length === 0 ? 1 : Math.max(...values, rawLo * 3);
  // Snap both ends to half decades (1, 3.16, 10, ...), so ticks and lines never touch the frame.
  // Half a decade of room below the fastest sample, for the legend.
  const yLoSnap = 10 ** (Math.floor(Math.log10(rawLo) * 2) / 2 - 0.5);
  const yHi = 10 ** (Math.ceil(Math.log10(rawHi) * 2) / 2);
  const ly = (ms: number) => {
    const v = Math.log10(Math.max(ms, FLOOR_MS));
    const t = (v - Math.log10(yLoSnap)) / (Math.log10(yHi) - Math.log10(yLoSnap));
    return y0 + M.top + h - t * h;
  };
  const lx = (nines: number) => x0 + M.left + (nines / GRID_MAX_NINES) * w;
  const parts: string[] = [];
  parts.push(`<text x="${fmt(x0 + M.left + w / 2)}" y="${fmt(y0 + 18)}" text-anchor="middle" font-weight="bold">${esc(panel.title)}</text>`);
  parts.push(`<rect x="${fmt(x0 + M.left)}" y="${fmt(y0 + M.top)}" width="${fmt(w)}" height="${fmt(h)}" fill="#fff" stroke="#999"/>`);
  for (const t of logTicks(yLoSnap, yHi)) {
    const y = ly(t);
    parts.push(`<line x1="${fmt(x0 + M.left)}" x2="${fmt(x0 + M.left + w)}" y1="${fmt(y)}" y2="${fmt(y)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${fmt(x0 + M.left - 5)}" y="${fmt(y + 4)}" text-anchor="end" font-size="11">${esc(msLabel(t))}</text>`);
  }
  const xTicks: [number, string][] = [
    [0, 'min'],
    [Math.log10(2), 'p50'],
    [1, 'p90'],
    [2, 'p99'],
    [3, 'p99.9'],
  ];
  for (const [nines, label] of xTicks) {
    if (nines > GRID_MAX_NINES) continue;
    const x = lx(nines);
    parts.push(`<line x1="${fmt(x)}" x2="${fmt(x)}" y1="${fmt(y0 + M.top)}" y2="${fmt(y0 + M.top + h)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${fmt(x)}" y="${fmt(y0 + M.top + h + 15)}" text-anchor="middle" font-size="11">${label}</text>`);
  }
  parts.push(`<text x="${fmt(x0 + M.left + w / 2)}" y="${fmt(y0 + PANEL_H - 6)}" text-anchor="middle" font-size="11" fill="#555">percentile</text>`);
  for (const s of panel.series) {
    const pts = s.grid
      .map((v, k) => (Number.isFinite(v) ? `${fmt(lx(k / GRID_STEPS_PER_NINE))},${fmt(ly(v))}` : null))
      .filter((p): p is string => p !== null);
    if (pts.length === 0) continue;
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash === undefined ? '' : ` stroke-dasharray="${s.dash}"`} points="${pts.join(' ')}"/>`);
  }
  // Legend in the bottom-right corner: percentile curves rise to the right, so it stays empty.
  if (panel.series.length > 0) {
    const longest = Math.max(...panel.series.map((s) => s.name.length));
    const boxW = Math.min(w - 6, 40 + longest * 6.4);
    const boxH = panel.series.length * 16 + 6;
    const bx = x0 + M.left + w - boxW - 3;
    const by = y0 + M.top + h - boxH - 3;
    parts.push(`<rect x="${fmt(bx)}" y="${fmt(by)}" width="${fmt(boxW)}" height="${fmt(boxH)}" fill="#fff" fill-opacity="0.9" stroke="#ddd"/>`);
    panel.series.forEach((s, i) => {
      const y = by + 15 + i * 16;
      const x = bx + 6;
      parts.push(`<line x1="${fmt(x)}" x2="${fmt(x + 22)}" y1="${fmt(y - 4)}" y2="${fmt(y - 4)}" stroke="${s.color}" stroke-width="2"${s.dash === undefined ? '' : ` stroke-dasharray="${s.dash}"`}/>`);
      parts.push(`<text x="${fmt(x + 28)}" y="${fmt(y)}" font-size="11">${esc(s.name)}</text>`);
    });
  }
  return parts.join('\n');
}

export function renderPercentileChart(options: ChartOptions): string {
  const width = Math.max(1, options.panels.length) * PANEL_W;
  const height = HEADER + PANEL_H;
  const body = options.panels.map((p, i) => panelSvg(p, i * PANEL_W, HEADER)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fafafa"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(options.title)}</text>`,
    options.subtitle === undefined ? '' : `<text x="10" y="38" font-size="11" fill="#555">${esc(options.subtitle)}</text>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}
