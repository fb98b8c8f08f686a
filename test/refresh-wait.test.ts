/**
 * Clients wait for a refresh as long as the daemon may (issue 12 follow-up):
 * the daemon waits up to its refresh ceiling for a slow token endpoint, so
 * `credential.refresh` and `token.get` with `min_ttl` must not give up
 * earlier and report a "daemon timeout" for a refresh that then finishes in
 * the background. Real oidc-provider with a held refresh, in-process daemon;
 * the client's own timers are faked so its waits can be crossed without
 * waiting them out (the daemon's ceiling runs on real time and is not reached).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { McpAuthdClient } from '../client/index.js';
import type { DaemonHandle } from '../daemon/daemon.js';
import { CLIENT_REFRESH_WAIT_MS, DAEMON_REFRESH_LONGEST_MS } from '../shared/refresh-timing.js';
import type { AuthServer } from './fixtures/auth-server.js';
import type { McpTestServer } from './fixtures/mcp-server.js';
import { CLI, ledgerCliOutput, REPO_ROOT } from './helpers/daemon-process.js';
import { browserLogin, startClockedDaemon, type ClockedDaemon } from './helpers/clocked-daemon.js';
import { ManualClock } from './helpers/manual-clock.js';
import { startOAuthServers, stopOAuthServers, tokenRequests } from './helpers/mcp-auth-stack.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { until } from './helpers/until.js';

const SEC = 1000;

type Settled<T> = { state: 'pending' } | { state: 'resolved'; value: T } | { state: 'rejected'; error: { code?: string; message?: string } };

/** Tracks a promise's outcome without awaiting it. */
function track<T>(promise: Promise<T>): { current: () => Settled<T>; done: Promise<Settled<T>> } {
  let settled: Settled<T> = { state: 'pending' };
  const done = promise.then(
    (value) => (settled = { state: 'resolved', value }),
    (error: { code?: string; message?: string }) => (settled = { state: 'rejected', error }),
  );
  return { current: () => settled, done };
}

/** Lets the client's faked clock run `ms` forward, a second at a time, with real I/O turns in between. */
async function letClientTimePass(ms: number): Promise<void> {
  for (let passed = 0; passed < ms; passed += SEC) {
    await jest.advanceTimersByTimeAsync(SEC);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Polls with I/O turns only (the faked setTimeout would never fire). */
async function untilFaked(condition: () => boolean, what: string): Promise<void> {
  for (let turns = 0; !condition(); turns += 1) {
    if (turns > 200_000) throw new Error(`never saw ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('clients wait for a slow refresh as long as the daemon does', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let clock: ManualClock;
  let session: ClockedDaemon;
  let daemon: DaemonHandle;
  let client: McpAuthdClient;
  let release: (() => void) | undefined;

  const refreshRequests = () => tokenRequests(as, 'refresh_token');

  beforeAll(async () => {
    ({ as, mcp } = await startOAuthServers({ accessTokenTtlSec: 30 }));
  });
  afterAll(async () => {
    await stopOAuthServers({ as, mcp });
  });
  beforeEach(async () => {
    home = makeTempHome();
    clock = new ManualClock(Date.now());
    // A long client timeout for the login only; the test's client below keeps the library's defaults.
    session = await startClockedDaemon({ paths: home.paths, clock, label: 'refresh-wait', clientTimeoutMs: 60_000 });
    daemon = session.daemon;
    await browserLogin(session.client, mcp.url);
    as.clearRequests();
    // The library's defaults, as an application or the CLI uses them.
    client = new McpAuthdClient({ socket: home.paths.socket });
  });
  afterEach(async () => {
    jest.useRealTimers();
    release?.();
    release = undefined;
    client.close();
    await session.stop();
    home.remove();
  });

  it('should wait for at least as long as the daemon may take for a refresh', () => {
    expect(CLIENT_REFRESH_WAIT_MS).toBeGreaterThan(DAEMON_REFRESH_LONGEST_MS);
  });

  it('T2: should get the answer of a refresh held past the old 10 s and 30 s client limits, for refresh and for token.get with min_ttl', async () => {
    await clock.advance(10 * SEC); // 20 s left: min_ttl 25 needs a refresh
    release = as.holdRefreshes();
    jest.useFakeTimers({ doNotFake: ['Date', 'performance', 'nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval'] });
    const refreshed = track(client.refresh(mcp.url));
    const token = track(client.getToken(mcp.url, { minTtl: 25 }));
    await untilFaked(() => refreshRequests().length === 1, 'the refresh reaching the server');

    await letClientTimePass(60 * SEC);
    expect(refreshed.current()).toEqual({ state: 'pending' });
    expect(token.current()).toEqual({ state: 'pending' });

    release();
    await Promise.all([refreshed.done, token.done]);
    expect(refreshed.current()).toMatchObject({ state: 'resolved', value: { resource: mcp.url } });
    expect(token.current()).toMatchObject({ state: 'resolved', value: { resource: mcp.url } });
    // One refresh, answered, and both callers got its outcome.
    expect(refreshRequests().map((r) => r.status)).toEqual([200]);
  });

  it('should say that the refresh may still be running in the daemon when it gives up at last', async () => {
    await clock.advance(10 * SEC);
    release = as.holdRefreshes();
    jest.useFakeTimers({ doNotFake: ['Date', 'performance', 'nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval'] });
    const refreshed = track(client.refresh(mcp.url));
    const token = track(client.getToken(mcp.url, { minTtl: 25 }));
    await untilFaked(() => refreshRequests().length === 1, 'the refresh reaching the server');

    await letClientTimePass(CLIENT_REFRESH_WAIT_MS + SEC);
    for (const call of [refreshed, token]) {
      expect(call.current()).toMatchObject({ state: 'rejected', error: { code: 'DAEMON_TIMEOUT' } });
      const { error } = call.current() as { error: { message: string } };
      expect(error.message).toContain(mcp.url);
      expect(error.message).toMatch(/may still be running in the daemon.*mcpauthd status/);
    }
    jest.useRealTimers();

    // And it was: the daemon commits the rotation when the server answers.
    release();
    await until(() => refreshRequests()[0]?.status === 200, 'the held refresh to be answered');
    await until(() => daemon.store.findByResource(mcp.url)?.lastRefreshAt !== null, 'the rotation to be stored');
    expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', last_error: null });
  });

  // `token` runs through the installed bin (client/bin.cts, the CommonJS fast path), `refresh` through the ESM CLI.
  const BIN = join(REPO_ROOT, 'dist', 'client', 'cli', 'bin.cjs');
  it.each([
    ['refresh', CLI, (url: string) => ['refresh', url], (url: string) => new RegExp(`^refreshed ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)],
    ['token --min-ttl', BIN, (url: string) => ['token', url, '--min-ttl', '25'], () => /^[\w-]+\.[\w-]+\.[\w-]+\n$/],
  ])('mcpauthd %s: should say on stderr that it waits for the authorization server, then print the result', async (_name, entry, argv, expected) => {
    await clock.advance(10 * SEC); // 20 s left: min_ttl 25 needs a refresh
    release = as.holdRefreshes();
    const args = argv(mcp.url);
    const child = spawn(process.execPath, [entry, ...args], { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await until(() => /waiting for the authorization server/.test(stderr), 'the waiting notice on stderr');
      expect(refreshRequests()).toHaveLength(1);
      release();
      expect(await exited).toBe(0);
    } finally {
      child.kill();
      ledgerCliOutput(args, { stdout, stderr });
    }
    expect(stdout).toMatch(expected(mcp.url));
    expect(refreshRequests().map((r) => r.status)).toEqual([200]);
    // Not a terminal: one plain line, no carriage-return animation.
    expect(stderr).not.toContain('\r');
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
