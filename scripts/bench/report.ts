/**
 * The bench report: a Markdown table of every figure against its same-run
 * baseline and target, and the SVG chart of the latency distributions.
 */
import { pairedRatio, type BenchConfig, type Measured, type Mode, type Results, type Subject } from './results-shape.js';
import type { HostMetrics } from './daemon-host.js';
import { latencyGrid, median, round } from './stats.js';
import { renderPercentileChart, type Panel } from './svg.js';

const fmtMs = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v < 1 ? `${round(v * 1000, 0)} µs` : `${round(v, v < 10 ? 2 : 1)} ms`);
const fmtN = (v: number | undefined, d = 0) => (v === undefined || !Number.isFinite(v) ? 'n/a' : round(v, d).toLocaleString('en-US'));
const fmtX = (v: number, digits = 2) => (Number.isFinite(v) ? `${round(v, digits)}x` : 'n/a');

export interface Row {
  measure: string;
  subject: string;
  baseline: string;
  ratio: string;
  target: string;
  met: string;
}

/** The table's rows; also fills results.targets with each row that has a target. */
export function buildReport(results: Results, config: BenchConfig): Row[] {
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
    add('`mcpauthd token` process (median; ratio: median of rounds)', fmtMs(C.cliMs), `${fmtMs(C.nodeMs)} (node -e 0)`, fmtX(C.ratio, 3), '<= 1.15x', C.ratio <= 1.15);
    if (C.statusMs !== undefined) {
      const statusRatio = C.statusRatio ?? C.statusMs / C.nodeMs;
      add('`mcpauthd status --json` process (median; ratio: median of rounds)', fmtMs(C.statusMs), `${fmtMs(C.nodeMs)} (node -e 0)`, fmtX(statusRatio, 3), '<= 1.15x', statusRatio <= 1.15);
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
  const E = results.sealing;
  if (E !== undefined) {
    add(`sealing: first start, ${fmtN(E.credentials)} plaintext credentials sealed`, fmtMs(E.migrationStartMs), 'one transaction, then ready', '');
    add(
      `sealing: start-up, ${fmtN(E.credentials)} sealed credentials`,
      fmtMs(E.startup.sealedManyMs),
      `1 credential ${fmtMs(E.startup.sealedOneMs)}`,
      fmtX(E.startup.sealedManyMs / E.startup.sealedOneMs),
      '< 1 s',
      E.startup.sealedManyMs < 1000,
    );
    add('sealing: store, read a credential cold (opens its row)', `${fmtN(E.store.coldReadUs.sealed, 1)} µs`, `plaintext ${fmtN(E.store.coldReadUs.plaintext, 1)} µs`, fmtX(E.store.coldReadUs.sealed / E.store.coldReadUs.plaintext));
    add('sealing: store, warm lookup (record cache, token.get path)', `${fmtN(E.store.warmLookupUs.sealed, 3)} µs`, `plaintext ${fmtN(E.store.warmLookupUs.plaintext, 3)} µs`, fmtX(E.store.warmLookupUs.sealed / E.store.warmLookupUs.plaintext));
    add(
      `sealing: token.get ${E.tokenGet.clients} clients, ${fmtN(E.credentials)} at random`,
      `${fmtN(E.tokenGet.sealedRps)}/s, p99 ${fmtMs(E.tokenGet.sealedP99Ms)}`,
      `echo floor ${fmtN(E.tokenGet.echoRps)}/s, p99 ${fmtMs(E.tokenGet.echoP99Ms)}`,
      `${fmtN((E.tokenGet.sealedRps / E.tokenGet.echoRps) * 100, 0)}% req/s`,
    );
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

export function table(rows: Row[]): string {
  const head: Row = { measure: 'measure', subject: 'mcpauthd', baseline: 'baseline (same run)', ratio: 'ratio', target: 'target', met: 'met' };
  const cols = Object.keys(head) as (keyof Row)[];
  const line = (r: Row) => `| ${cols.map((c) => r[c]).join(' | ')} |`;
  return [line(head), `|${cols.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

/** The SVG of the latency distributions, or undefined when latency was not measured. */
export function chart(results: Results, config: BenchConfig): string | undefined {
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
