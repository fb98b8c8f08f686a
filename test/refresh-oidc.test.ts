/**
 * Scheduled refresh against a real authorization server (oidc-provider) with
 * access tokens of a few seconds and rotating refresh tokens. The daemon runs
 * in-process with a manual clock, so "60 seconds" of scheduling takes no wall
 * time; the server, its rotation and its audience rules are real.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../client/index.js';
import type { DaemonHandle } from '../daemon/daemon.js';
import { decodeJwtPayload } from '../daemon/oauth/token-response.js';
import { paramValues, type AuthServer } from './fixtures/auth-server.js';
import type { McpTestServer } from './fixtures/mcp-server.js';
import { browserLogin, startClockedDaemon, type ClockedDaemon } from './helpers/clocked-daemon.js';
import { ManualClock, settle } from './helpers/manual-clock.js';
import { startOAuthServers, stopOAuthServers, tokenRequests } from './helpers/mcp-auth-stack.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

const SEC = 1000;

describe('scheduled refresh against oidc-provider (8-second tokens, rotation)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let clock: ManualClock;
  let session: ClockedDaemon | undefined;
  let daemon: DaemonHandle;
  let client: McpAuthdClient;
  /** The logs of the daemons stopped so far; logs() adds the running one's. */
  let earlierLogs = '';
  const logs = () => earlierLogs + (session?.logs() ?? '');

  const start = async () => {
    session = await startClockedDaemon({ paths: home.paths, clock, label: 'refresh-oidc' });
    ({ daemon, client } = session);
  };
  const stop = async () => {
    earlierLogs = logs();
    await session?.stop();
    session = undefined;
  };
  const refreshRequests = () => tokenRequests(as, 'refresh_token');
  const audOf = (token: string) => decodeJwtPayload(token)?.['aud'];

  beforeAll(async () => {
    ({ as, mcp } = await startOAuthServers({ accessTokenTtlSec: 8 }));
  });
  afterAll(async () => {
    await stopOAuthServers({ as, mcp });
  });

  beforeEach(async () => {
    home = makeTempHome();
    // Real time: oidc-provider checks expiry against the real clock; the
    // daemon's scheduling runs on this one.
    clock = new ManualClock(Date.now());
    await start();
    await browserLogin(client, mcp.url);
    as.clearRequests();
  });
  afterEach(async () => {
    await stop();
    home.remove();
    as.setDown(false);
    as.setIgnoreResource(false);
  });

  it('R3 R4: should refresh before expiry, about every 5 s for 60 s, with the resource exactly once and aud unchanged', async () => {
    const tokens = [(await client.getToken(mcp.url)).access_token];
    for (let t = 0; t < 60; t++) {
      await clock.advance(SEC);
      await daemon.scheduler.whenIdle();
      const { access_token } = await client.getToken(mcp.url);
      if (access_token !== tokens.at(-1)) tokens.push(access_token);
    }
    const requests = refreshRequests();
    // 60 s / (60-75% of 8 s) = 10 to 12.5 refreshes.
    expect(requests.length).toBeGreaterThanOrEqual(10);
    expect(requests.length).toBeLessThanOrEqual(13);
    for (const request of requests) {
      expect(paramValues(request, 'resource')).toEqual([mcp.url]);
      // No scope on refresh: asking for anything the login did not get is invalid_scope.
      expect(paramValues(request, 'scope')).toEqual([]);
      expect(request.status).toBe(200);
    }
    expect(tokens.length).toBe(requests.length + 1);
    for (const token of tokens) expect(audOf(token)).toBe(mcp.url);
    // Every presented refresh token differs: rotation was stored each time.
    expect(new Set(requests.map((r) => paramValues(r, 'refresh_token')[0])).size).toBe(requests.length);
  });

  it('T2: should carry a rotation chain of 5+ refreshes across a daemon restart', async () => {
    for (let i = 0; i < 3; i++) await client.refresh(mcp.url);
    await stop();
    await start();
    for (let i = 0; i < 3; i++) await client.refresh(mcp.url);
    const requests = refreshRequests();
    expect(requests.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(requests.map((r) => paramValues(r, 'refresh_token')[0])).size).toBe(6);
    expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', has_refresh_token: true });
  });

  it('should make 100 concurrent token.get with a min_ttl beyond the token life into one refresh request', async () => {
    const before = (await client.getToken(mcp.url)).access_token;
    await clock.advance(2 * SEC); // 6 s left, refresh not due yet: only min_ttl can force it
    expect(refreshRequests()).toHaveLength(0);
    const clients = Array.from({ length: 10 }, () => new McpAuthdClient({ socket: home.paths.socket }));
    try {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (clients[i % 10] as McpAuthdClient).getToken(mcp.url, { minTtl: 7 })));
      const tokens = new Set(results.map((r) => r.access_token));
      expect(tokens.size).toBe(1);
      expect(tokens.has(before)).toBe(false);
      expect(refreshRequests()).toHaveLength(1);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('should keep serving the valid token while the server is down, show the backoff, and recover by itself', async () => {
    const before = (await client.getToken(mcp.url)).access_token;
    as.setDown('503');
    await clock.advance(6 * SEC); // past the refresh point
    await daemon.scheduler.whenIdle();
    const down = (await client.status()).credentials[0]!;
    expect(down.state).toBe('error');
    expect(down.last_error).toMatch(/503|temporarily_unavailable/);
    expect(down.next_attempt_at).not.toBeNull();
    expect((await client.getToken(mcp.url)).access_token).toBe(before);
    // Backing off: a client that needs a longer-lived token gets the failure at once, and the server no new request.
    const attempts = refreshRequests().length;
    await expect(client.getToken(mcp.url, { minTtl: 5 })).rejects.toMatchObject({ code: 'refresh_failed' });
    expect(refreshRequests().length).toBe(attempts);

    as.setDown(false);
    await clock.advance(3 * SEC);
    await daemon.scheduler.whenIdle();
    const up = (await client.status()).credentials[0]!;
    expect(up).toMatchObject({ state: 'valid', last_error: null, next_attempt_at: null });
    expect((await client.getToken(mcp.url)).access_token).not.toBe(before);
  });

  it('should set needs_login on invalid_grant and keep serving the access token until it expires', async () => {
    const before = (await client.getToken(mcp.url)).access_token;
    // Spend the refresh token behind the daemon's back: a replay revokes the grant.
    const stored = daemon.store.findByResource(mcp.url)!;
    const params = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored.refreshToken!.reveal(), client_id: stored.clientId, resource: mcp.url });
    for (let i = 0; i < 2; i++) await fetch(`${as.issuer}/token`, { method: 'POST', body: params });
    await expect(client.refresh(mcp.url)).rejects.toMatchObject({ code: 'needs_login' });
    const status = (await client.status()).credentials[0]!;
    expect(status.state).toBe('needs_login');
    expect(status.last_error).toMatch(/invalid_grant/);
    expect((await client.getToken(mcp.url)).access_token).toBe(before);
    await clock.advance(9 * SEC);
    await expect(client.getToken(mcp.url)).rejects.toMatchObject({ code: 'needs_login' });
  });

  it('R5: should reject a refresh that returns a token for another audience and keep the previous access token', async () => {
    const before = daemon.store.findByResource(mcp.url)!;
    as.setIgnoreResource(true);
    await expect(client.refresh(mcp.url)).rejects.toMatchObject({ code: 'refresh_failed', data: { check: 'audience_mismatch' } });
    as.setIgnoreResource(false);
    const after = daemon.store.findByResource(mcp.url)!;
    expect(after.accessToken.equals(before.accessToken)).toBe(true);
    // The server rotated in answering: the grant lives in the refresh token it issued (test/refresh-failures.test.ts).
    expect(after.refreshToken?.equals(before.refreshToken)).toBe(false);
    expect(after.lastError).toMatch(/resource/);
    expect(audOf((await client.getToken(mcp.url)).access_token)).toBe(mcp.url);
  });

  it('should tell subscribers about every refresh', async () => {
    const events: string[] = [];
    const watcher = new McpAuthdClient({ socket: home.paths.socket });
    try {
      await watcher.subscribe((e) => events.push(`${e.change}:${e.state}`));
      await client.refresh(mcp.url);
      await clock.advance(6 * SEC);
      await daemon.scheduler.whenIdle();
      await settle();
      expect(events).toEqual(['refreshed:valid', 'refreshed:valid']);
    } finally {
      watcher.close();
    }
  });

  it('should log credential times in the unit of status --json (Unix seconds), next to an ISO timestamp', async () => {
    const lastLine = (message: string) =>
      logs()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['message'] === message)
        .at(-1);
    as.setDown('503');
    await clock.advance(6 * SEC);
    await daemon.scheduler.whenIdle();
    const down = (await client.status()).credentials[0]!;
    expect(lastLine('refresh failed; will retry')).toMatchObject({ resource: mcp.url, next_attempt_at: down.next_attempt_at });
    as.setDown(false);
    await client.refresh(mcp.url);
    const up = (await client.status()).credentials[0]!;
    const refreshed = lastLine('refreshed');
    expect(refreshed).toMatchObject({ resource: mcp.url, expires_at: up.expires_at });
    expect(String(refreshed?.['timestamp'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('should never write a token the server issued into a log line', () => {
    expect(logs().length).toBeGreaterThan(1000);
    for (const secret of as.issuedSecrets()) expect(logs()).not.toContain(secret);
  });
});
