/**
 * The refresh storm: N credentials with real refresh tokens from a real
 * authorization server (oidc-provider, the test fixture), all due at once.
 *
 * 1. Logins: N real logins through the daemon (discovery, DCR once, PKCE,
 *    loopback callback, code exchange), the scripted browser approving each,
 *    against a tiny HTTP server that publishes protected resource metadata for
 *    N resources.
 * 2. "wake", several times in one running daemon: every credential becomes
 *    due at once (one SQL UPDATE, then the scheduler is poked, as its sweep
 *    would after a laptop wakes). Measured: time until every credential was
 *    refreshed (credential.updated events), peak memory, memory after a full
 *    GC against the idle daemon before the first storm; memory that grows
 *    from one storm to the next would be a leak. Each storm also proves the
 *    previous one stored its rotated refresh tokens: a lost one would come
 *    back invalid_grant.
 * 3. "restart": the daemon is stopped, every credential made due on the
 *    closed database, the daemon started: time from spawn until every
 *    credential was refreshed.
 *
 * Lost credential: one that did not end `valid` with a new access token for
 * exactly its own resource.
 */
import Database from 'better-sqlite3';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { McpAuthdClient } from '../../client/index.js';
import { DEFAULT_REFRESH_CONCURRENCY } from '../../daemon/refresh/refresh-scheduler.js';
import type { CredentialUpdated } from '../../shared/protocol/credential-types.js';
import { startAuthServer, type AuthServer } from '../../test/fixtures/auth-server.js';
import type { CompleteLoginOptions, CompleteLoginResult } from '../../test/fixtures/scripted-browser.mjs';
import { BENCH_DIST, REPO_ROOT, makeHome, daemonHostExecArgv, procMemory, sleep, type BenchHome } from './common.js';
import type { HostMetrics, Peaks } from './daemon-host.js';
import { RpcChild } from './rpc.js';
import { round, summarize } from './stats.js';

export interface StormOptions {
  credentials: number;
  /** Logins at once (the daemon allows 8 pending logins). */
  loginConcurrency: number;
  /** Storms in one running daemon (memory across them tells a leak from warm state). */
  wakeRounds: number;
  /** Give up waiting for the drain after this long. */
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export interface StormRound {
  kind: 'wake' | 'restart';
  credentials: number;
  /** Trigger (or spawn, for restart) → last credential refreshed. */
  drainMs: number;
  refreshesPerSec: number;
  /** Refresh requests the authorization server saw in this round, and how many it answered 200. */
  refreshRequests: number;
  refreshOk: number;
  /** A refresh token presented more than once (would revoke the grant): must be 0. */
  duplicatePresentations: number;
  peakInFlight: number | null;
  baseline: MemoryPoint | null;
  peak: { rssMB: number; heapUsedMB: number | null };
  after: MemoryPoint;
  lost: number;
  lostDetail: string[];
  states: Record<string, number>;
  failedEvents: number;
}

export interface MemoryPoint {
  rssMB: number;
  heapUsedMB: number;
  /** V8 heap spaces in use, MB. */
  spacesMB?: Record<string, number>;
}

export interface StormResult {
  credentials: number;
  login: { count: number; totalMs: number; perSec: number; p50Ms: number; p99Ms: number; concurrency: number; failures: number };
  refreshConcurrency: number;
  rounds: StormRound[];
  lostTotal: number;
}

type CompleteLogin = (url: string, options?: CompleteLoginOptions) => Promise<CompleteLoginResult>;

/** A stand-in for N MCP servers on one port: a 401 challenge and protected resource metadata per path. */
async function startPrmServer(issuer: string): Promise<{ origin: string; url(i: number): string; stop(): Promise<void> }> {
  let origin = '';
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const prm = /^\/\.well-known\/oauth-protected-resource(\/r\/\d+)$/.exec(path);
    if (req.method === 'GET' && prm !== null) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resource: `${origin}${prm[1]}`, authorization_servers: [issuer], scopes_supported: ['mcp:tools'] }));
      return;
    }
    if (/^\/r\/\d+$/.test(path)) {
      req.resume();
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource${path}", scope="mcp:tools"` });
      res.end();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (i) => `${origin}/r/${i}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function jwtAudience(token: string): string[] {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { aud?: string | string[] };
    return Array.isArray(payload.aud) ? payload.aud : payload.aud === undefined ? [] : [payload.aud];
  } catch {
    return [];
  }
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

async function startHost(home: BenchHome): Promise<RpcChild> {
  const host = new RpcChild(join(BENCH_DIST, 'daemon-host.js'), [home.paths.home, home.paths.socket, home.paths.configDir], daemonHostExecArgv());
  await host.whenReady();
  return host;
}

async function fetchTokens(client: McpAuthdClient, urls: readonly string[]): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  await inBatches(urls, 16, async (url) => {
    tokens.set(url, (await client.getToken(url)).access_token);
  });
  return tokens;
}

/** Refresh requests in the AS log from index `from` on: how many, how many 200, refresh tokens presented twice. */
function refreshTraffic(as: AuthServer, from: number): { requests: number; ok: number; duplicates: number; next: number } {
  const all = as.requests('token');
  const mine = all.slice(from).filter((r) => r.grantType === 'refresh_token');
  const seen = new Map<string, number>();
  for (const r of as.requests('token').filter((x) => x.grantType === 'refresh_token')) {
    const fp = r.params.find(([k]) => k === 'refresh_token')?.[1] ?? '';
    seen.set(fp, (seen.get(fp) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const n of seen.values()) if (n > 1) duplicates += n - 1;
  return { requests: mine.length, ok: mine.filter((r) => r.status === 200).length, duplicates, next: all.length };
}

async function verify(
  client: McpAuthdClient,
  urls: readonly string[],
  before: Map<string, string>,
): Promise<{ lost: number; lostDetail: string[]; states: Record<string, number>; tokens: Map<string, string> }> {
  const status = await client.status();
  const states: Record<string, number> = {};
  for (const c of status.credentials) states[c.state] = (states[c.state] ?? 0) + 1;
  const tokens = new Map<string, string>();
  const lostDetail: string[] = [];
  await inBatches(urls, 16, async (url) => {
    try {
      const { access_token, resource } = await client.getToken(url);
      tokens.set(url, access_token);
      if (access_token === before.get(url)) lostDetail.push(`${url}: not refreshed`);
      else if (resource !== url || !jwtAudience(access_token).includes(url)) lostDetail.push(`${url}: token for another audience`);
    } catch (err) {
      lostDetail.push(`${url}: ${(err as Error).message.slice(0, 160)}`);
    }
  });
  for (const c of status.credentials) if (c.state !== 'valid' && !lostDetail.some((l) => l.startsWith(`${c.resource}:`))) lostDetail.push(`${c.resource}: state ${c.state}`);
  if (status.credentials.length !== urls.length) lostDetail.push(`the daemon holds ${status.credentials.length} credentials, expected ${urls.length}`);
  return { lost: lostDetail.length, lostDetail: lostDetail.slice(0, 10), states, tokens };
}

export async function runStorm(options: StormOptions): Promise<StormResult> {
  const { log } = options;
  const n = options.credentials;
  const browserModule = (await import(pathToFileURL(join(REPO_ROOT, 'test', 'fixtures', 'scripted-browser.mjs')).href)) as { completeLogin: CompleteLogin };
  const completeLogin = browserModule.completeLogin;
  // Tokens live an hour: nothing comes due by itself during the run.
  const as = await startAuthServer({ accessTokenTtlSec: 3600 });
  const prm = await startPrmServer(as.issuer);
  const home = makeHome('storm');
  const urls = Array.from({ length: n }, (_, i) => prm.url(i));
  const rounds: StormRound[] = [];
  let host: RpcChild | undefined;
  let client: McpAuthdClient | undefined;
  try {
    // ------------------------------------------------------------ 1. real logins
    host = await startHost(home);
    client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 60_000 });
    const loginClient = client;
    const loginMs: number[] = [];
    let failures = 0;
    const loginStarted = performance.now();
    let done = 0;
    await inBatches(urls, options.loginConcurrency, async (url) => {
      const t0 = performance.now();
      let browser: Promise<unknown> = Promise.resolve();
      try {
        await loginClient.login({ server_url: url, insecure_loopback: true, timeout: 120 }, (p) => {
          if (p.stage === 'authorize_url' && p.authorize_url !== undefined) browser = completeLogin(p.authorize_url).catch((err: unknown) => err);
        });
        loginMs.push(performance.now() - t0);
      } catch (err) {
        failures += 1;
        log(`  login ${url} failed: ${(err as Error).message} ${String(await browser)}`);
      }
      done += 1;
      if (done % 200 === 0) log(`  ${done}/${n} logins (${round((performance.now() - loginStarted) / 1000, 1)} s)`);
    });
    const loginTotal = performance.now() - loginStarted;
    const loginSummary = summarize(loginMs);
    log(`  ${n - failures} logins in ${round(loginTotal / 1000, 1)} s (${round((n / loginTotal) * 1000, 1)}/s, p50 ${round(loginSummary.p50, 1)} ms)`);
    if (failures > 0) throw new Error(`${failures} of ${n} logins failed; the storm needs every credential`);
    client.close();
    await host.call('stop');
    await host.stop();
    host = undefined;
    let asLog = as.requests('token').length;

    // ------------------------------------------------------------ 2. wake: all due at once in a running daemon
    host = await startHost(home);
    client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 60_000 });
    // Warm up: one refresh loads the OAuth code paths (lazily imported), as any
    // long-running daemon has; the baseline is the idle daemon after that.
    await client.refresh(urls[0] as string);
    asLog = as.requests('token').length;
    let before = await fetchTokens(client, urls);
    await sleep(300);
    const baseline = await host.call<HostMetrics>('gc');
    let refreshedAt = new Map<string, number>();
    let failedEvents = 0;
    let resolveDrained: () => void = () => undefined;
    await client.subscribe((event: CredentialUpdated) => {
      if (event.change === 'refreshed') {
        if (!refreshedAt.has(event.resource)) refreshedAt.set(event.resource, performance.now());
        if (refreshedAt.size >= n) resolveDrained();
      } else if (event.change === 'refresh_failed' || event.change === 'needs_login') failedEvents += 1;
    });
    // Several storms in one process: memory that keeps growing from one to the
    // next is a leak; memory that grows once and then stays is warm state.
    for (let w = 0; w < options.wakeRounds; w++) {
      refreshedAt = new Map();
      failedEvents = 0;
      const drained = new Promise<void>((resolve) => (resolveDrained = resolve));
      await host.call('sampleStart', { everyMs: 10 });
      const t0 = performance.now();
      await host.call('triggerDue');
      const timedOut = await Promise.race([drained.then(() => false), sleep(options.drainTimeoutMs).then(() => true)]);
      const drainMs = (timedOut ? performance.now() : Math.max(...refreshedAt.values())) - t0;
      const peaks = await host.call<Peaks>('sampleStop');
      await sleep(500);
      const after = await host.call<HostMetrics>('gc');
      const traffic = refreshTraffic(as, asLog);
      asLog = traffic.next;
      const checked = await verify(client, urls, before);
      before = checked.tokens;
      rounds.push({
        kind: 'wake',
        credentials: n,
        drainMs,
        refreshesPerSec: (refreshedAt.size / drainMs) * 1000,
        refreshRequests: traffic.requests,
        refreshOk: traffic.ok,
        duplicatePresentations: traffic.duplicates,
        peakInFlight: peaks.peakInFlight,
        baseline: { rssMB: baseline.rssMB, heapUsedMB: baseline.heapUsedMB, spacesMB: baseline.heapSpacesMB },
        peak: { rssMB: peaks.peakRssMB, heapUsedMB: peaks.peakHeapUsedMB },
        after: { rssMB: after.rssMB, heapUsedMB: after.heapUsedMB, spacesMB: after.heapSpacesMB },
        lost: checked.lost,
        lostDetail: checked.lostDetail,
        states: checked.states,
        failedEvents,
      });
      log(`  wake ${w + 1}: ${n} refreshed in ${round(drainMs / 1000, 2)} s, lost ${checked.lost}, heap ${round(baseline.heapUsedMB, 1)} → ${round(peaks.peakHeapUsedMB, 1)} → ${round(after.heapUsedMB, 1)} MB`);
      // last_refresh_at has second resolution; keep rounds apart.
      await sleep(1_100);
    }
    client.close();
    await host.call('stop');
    await host.stop();
    host = undefined;

    // ------------------------------------------------------------ 3. restart: all due in the closed database
    const triggerSec = Math.floor(Date.now() / 1000);
    const db = new Database(home.paths.database);
    db.prepare('UPDATE credentials SET refresh_at = ? WHERE refresh_token IS NOT NULL').run(Date.now() - 1_000);
    db.close();
    const spawnedAt = performance.now();
    host = await startHost(home);
    client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 60_000 });
    // Refreshes start before we can subscribe: subscribe first, then one status
    // call names those already done; events name the rest.
    const restarted = new Set<string>();
    let lastDoneAt = performance.now();
    let resolveRestart: () => void = () => undefined;
    const restartDrained = new Promise<void>((resolve) => (resolveRestart = resolve));
    const mark = (resource: string) => {
      if (restarted.has(resource)) return;
      restarted.add(resource);
      lastDoneAt = performance.now();
      if (restarted.size >= n) resolveRestart();
    };
    await client.subscribe((event: CredentialUpdated) => {
      if (event.change === 'refreshed') mark(event.resource);
    });
    for (const c of (await client.status()).credentials) if (c.state === 'valid' && (c.last_refresh_at ?? 0) >= triggerSec) mark(c.resource);
    const restartTimedOut = await Promise.race([restartDrained.then(() => false), sleep(options.drainTimeoutMs).then(() => true)]);
    const restartDrainMs = (restartTimedOut ? performance.now() : lastDoneAt) - spawnedAt;
    const restartPeak = procMemory(host.pid);
    await sleep(500);
    const restartAfter = await host.call<HostMetrics>('gc');
    const traffic = refreshTraffic(as, asLog);
    const restartChecked = await verify(client, urls, before);
    rounds.push({
      kind: 'restart',
      credentials: n,
      drainMs: restartDrainMs,
      refreshesPerSec: (n / restartDrainMs) * 1000,
      refreshRequests: traffic.requests,
      refreshOk: traffic.ok,
      duplicatePresentations: traffic.duplicates,
      peakInFlight: null,
      baseline: null,
      peak: { rssMB: restartPeak?.hwmMB ?? Number.NaN, heapUsedMB: null },
      after: { rssMB: restartAfter.rssMB, heapUsedMB: restartAfter.heapUsedMB },
      lost: restartChecked.lost,
      lostDetail: restartChecked.lostDetail,
      states: restartChecked.states,
      failedEvents: 0,
    });
    log(`  restart: ${n} refreshed ${round(restartDrainMs / 1000, 2)} s after spawn, lost ${restartChecked.lost}, peak RSS ${round(restartPeak?.hwmMB ?? Number.NaN, 1)} MB`);
    return {
      credentials: n,
      login: {
        count: loginMs.length,
        totalMs: loginTotal,
        perSec: (loginMs.length / loginTotal) * 1000,
        p50Ms: loginSummary.p50,
        p99Ms: loginSummary.p99,
        concurrency: options.loginConcurrency,
        failures,
      },
      refreshConcurrency: DEFAULT_REFRESH_CONCURRENCY,
      rounds,
      lostTotal: rounds.reduce((sum, r) => sum + r.lost, 0),
    };
  } finally {
    client?.close();
    if (host !== undefined) {
      await host.call('stop').catch(() => undefined);
      await host.stop();
    }
    await prm.stop();
    await as.stop();
    home.remove();
  }
}

