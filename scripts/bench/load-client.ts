/**
 * The load generator, in its own process (forked by run.ts), so client work
 * never shares the server's event loop. It uses the project's own client
 * (client/connection.ts) against both the daemon and the echo floor, so only
 * the server side differs between the two.
 *
 * Closed loop: each of `clients` connections keeps exactly one `token.get`
 * in flight and sends the next as soon as the answer arrives.
 */
import { readFileSync } from 'node:fs';
import { Connection } from '../../client/connection.js';
import { serveRpc } from './rpc.js';
import { latencyGrid, summarize, type LatencySummary } from './stats.js';

export interface LoadArgs {
  socket: string;
  clients: number;
  warmupMs: number;
  durationMs: number;
  /** Server URLs to ask for; `{i}` is replaced by a random index below `count`. */
  template: string;
  count: number;
  /** The server's pid, to read its CPU time over the measured window (Linux /proc). */
  serverPid?: number;
  /** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK). */
  clkTck?: number;
}

export interface LoadResult {
  clients: number;
  requests: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  rps: number;
  latency: LatencySummary;
  /** Latency (ms) at each quantile of stats.gridQuantiles(). */
  grid: number[];
  /** Server CPU time (user + system) per request over the measured window, µs; null where /proc is unavailable. */
  serverCpuUsPerRequest: number | null;
  /** Share of one core the server used over the window. */
  serverCpuShare: number | null;
  /** Share of one core this load client used: near 1 means the client, not the server, was the limit. */
  clientCpuShare: number;
}

/** utime + stime of a process in ms, or null. */
function processCpuMs(pid: number | undefined, clkTck: number): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clkTck;
  } catch {
    return null;
  }
}

async function runLoad(args: LoadArgs): Promise<LoadResult> {
  const target = (i: number) => args.template.replace('{i}', String(i));
  const pick = () => target(args.count <= 1 ? 0 : Math.floor(Math.random() * args.count));
  const connections = Array.from({ length: args.clients }, () => new Connection(args.socket));
  // Connect every client first (not measured).
  await Promise.all(connections.map((c) => c.request('token.get', { server_url: target(0) })));

  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const clkTck = args.clkTck ?? 100;
  const measureFrom = performance.now() + args.warmupMs;
  const end = measureFrom + args.durationMs;
  let lastDone = measureFrom;
  let serverCpuStart: number | null = null;
  let clientCpuStart: NodeJS.CpuUsage | undefined;
  const windowStart = setTimeout(() => {
    serverCpuStart = processCpuMs(args.serverPid, clkTck);
    clientCpuStart = process.cpuUsage();
  }, args.warmupMs);
  await Promise.all(
    connections.map(async (connection) => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= end) return;
        try {
          await connection.request('token.get', { server_url: pick() });
        } catch (err) {
          errors += 1;
          firstError ??= (err as Error).message;
        }
        const t1 = performance.now();
        if (t0 >= measureFrom) {
          latencies.push(t1 - t0);
          if (t1 > lastDone) lastDone = t1;
        }
      }
    }),
  );
  clearTimeout(windowStart);
  const serverCpuEnd = processCpuMs(args.serverPid, clkTck);
  const clientCpu = process.cpuUsage(clientCpuStart);
  for (const c of connections) c.close();
  const elapsedMs = lastDone - measureFrom;
  const serverCpuMs = serverCpuStart === null || serverCpuEnd === null ? null : serverCpuEnd - serverCpuStart;
  return {
    clients: args.clients,
    requests: latencies.length,
    errors,
    firstError,
    elapsedMs,
    rps: elapsedMs > 0 ? (latencies.length / elapsedMs) * 1000 : 0,
    latency: summarize(latencies),
    grid: latencyGrid(latencies),
    serverCpuUsPerRequest: serverCpuMs === null || latencies.length === 0 ? null : (serverCpuMs * 1000) / latencies.length,
    serverCpuShare: serverCpuMs === null || elapsedMs <= 0 ? null : serverCpuMs / elapsedMs,
    clientCpuShare: elapsedMs > 0 ? (clientCpu.user + clientCpu.system) / 1000 / elapsedMs : 0,
  };
}

serveRpc({
  load: (args: LoadArgs) => runLoad(args),
});
