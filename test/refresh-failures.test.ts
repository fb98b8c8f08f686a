/**
 * The failure branches of a refresh against a real authorization server
 * (oidc-provider, 30-second tokens, rotating refresh tokens), issue 12: a
 * refresh outcome never overwrites a newer login, scopes are checked after a
 * refresh, and a min_ttl the server can never meet costs one refresh, not one
 * per call. The daemon runs in-process on a manual clock; the server is real.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../client/index.js';
import type { DaemonHandle, DaemonOptions } from '../daemon/daemon.js';
import { HTTP_TIMEOUT_MS } from '../daemon/oauth/http-fetch.js';
import { decodeJwtPayload } from '../daemon/oauth/token-response.js';
import { paramValues, type AuthServer } from './fixtures/auth-server.js';
import type { McpTestServer } from './fixtures/mcp-server.js';
import { browserLogin, startClockedDaemon, type ClockedDaemon } from './helpers/clocked-daemon.js';
import { ManualClock } from './helpers/manual-clock.js';
import { startOAuthServers, stopOAuthServers, tokenRequests } from './helpers/mcp-auth-stack.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { until } from './helpers/until.js';

const SEC = 1000;
const TOKEN_TTL_SEC = 30;

describe('refresh failure branches against oidc-provider (30-second tokens, rotation)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let clock: ManualClock;
  let session: ClockedDaemon;
  let daemon: DaemonHandle;
  let client: McpAuthdClient;
  let logs = '';

  const start = async (options: Partial<DaemonOptions> = {}) => {
    session = await startClockedDaemon({ paths: home.paths, clock, label: 'refresh-failures', clientTimeoutMs: 60_000, daemon: options });
    ({ daemon, client } = session);
  };
  const stop = async () => {
    logs += session.logs();
    await session.stop();
  };
  const login = (scopes?: string[]) => browserLogin(client, mcp.url, scopes);
  const refreshRequests = () => tokenRequests(as, 'refresh_token');
  const stored = () => daemon.store.findByResource(mcp.url)!;

  beforeAll(async () => {
    ({ as, mcp } = await startOAuthServers({ accessTokenTtlSec: TOKEN_TTL_SEC }));
  });
  afterAll(async () => {
    await stopOAuthServers({ as, mcp });
  });
  beforeEach(async () => {
    home = makeTempHome();
    clock = new ManualClock(Date.now());
    await start();
    await login(['mcp:tools', 'mcp:admin']);
    as.clearRequests();
  });
  afterEach(async () => {
    as.setDown(false);
    as.setTokenDelayMs(0);
    as.setRefreshScope(null);
    as.setIgnoreResource(false);
    await stop();
    home.remove();
  });

  describe('a refresh outcome never overwrites a newer login (issue 12 item 2)', () => {
    it('T2: should leave the fresh credential valid when a slow refresh fails with invalid_grant after a new login', async () => {
      const old = stored();
      const release = as.holdRefreshes();
      const pending = client.refresh(mcp.url).then(
        () => 'resolved',
        (err: { code?: string }) => err.code,
      );
      await until(() => refreshRequests().length === 1, 'the refresh to reach the server');
      await login(['mcp:tools', 'mcp:admin']);
      const fresh = stored();
      expect(fresh.refreshToken?.reveal()).not.toBe(old.refreshToken?.reveal());
      // The old grant dies at the server: the held refresh will get invalid_grant.
      const revoked = await fetch(`${as.issuer}/revoke`, {
        method: 'POST',
        body: new URLSearchParams({ token: old.refreshToken!.reveal(), token_type_hint: 'refresh_token', client_id: old.clientId }),
      });
      expect(revoked.status).toBe(200);
      release();
      await pending;
      expect(refreshRequests()[0]?.status).toBe(400);

      const status = (await client.status()).credentials[0]!;
      expect(status).toMatchObject({ state: 'valid', last_error: null });
      expect(stored().refreshToken?.reveal()).toBe(fresh.refreshToken?.reveal());
      await expect(client.refresh(mcp.url)).resolves.toMatchObject({ resource: mcp.url });
      expect(refreshRequests().at(-1)?.status).toBe(200);
    });

    it('should not put a new login into backoff when a slow refresh gets a 503', async () => {
      const release = as.holdRefreshes();
      const pending = client.refresh(mcp.url).then(
        () => 'resolved',
        (err: { code?: string }) => err.code,
      );
      await until(() => refreshRequests().length === 1, 'the refresh to reach the server');
      await login(['mcp:tools', 'mcp:admin']);
      as.setDown('503');
      release();
      await pending;
      as.setDown(false);
      expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', last_error: null, next_attempt_at: null });
      // No backoff answer: a min_ttl refresh goes to the server at once, and works.
      await clock.advance(10 * SEC);
      await expect(client.getToken(mcp.url, { minTtl: 25 })).resolves.toMatchObject({ resource: mcp.url });
      expect(refreshRequests().at(-1)?.status).toBe(200);
    });

    it('C3: should keep the registration a new login uses when a slow refresh gets invalid_client', async () => {
      const release = as.holdRefreshes();
      const pending = client.refresh(mcp.url).then(
        () => 'resolved',
        (err: { code?: string }) => err.code,
      );
      await until(() => refreshRequests().length === 1, 'the refresh to reach the server');
      await login(['mcp:tools', 'mcp:admin']);
      const fresh = stored();
      as.setDown('invalid_client');
      release();
      await pending;
      as.setDown(false);

      expect(daemon.store.getClientRegistration(fresh.issuer, fresh.clientId)).toBeDefined();
      expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', last_error: null });
      await expect(client.refresh(mcp.url)).resolves.toMatchObject({ resource: mcp.url });
      expect(refreshRequests().at(-1)?.status).toBe(200);
    });
  });

  describe('a slow or silent token endpoint (issue 12 item 1)', () => {
    it('T2: should wait for a refresh answered after the metadata timeout, serving the old token meanwhile', async () => {
      const before = (await client.getToken(mcp.url)).access_token;
      as.setTokenDelayMs(HTTP_TIMEOUT_MS + 1500);
      const pending = client.refresh(mcp.url);
      await until(() => refreshRequests().length === 1, 'the refresh to reach the server');
      // token.get without min_ttl does not wait for the refresh.
      await expect(client.getToken(mcp.url)).resolves.toMatchObject({ access_token: before });
      await expect(pending).resolves.toMatchObject({ resource: mcp.url });
      as.setTokenDelayMs(0);

      expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', last_error: null });
      expect((await client.getToken(mcp.url)).access_token).not.toBe(before);
      // The grant lives: the next refresh presents the rotated token and works.
      await expect(client.refresh(mcp.url)).resolves.toMatchObject({ resource: mcp.url });
      expect(refreshRequests().map((r) => r.status)).toEqual([200, 200]);
    }, 40_000);

    it('T2: should mark an unanswered refresh "outcome unknown" at its ceiling and not present that refresh token again while the access token lives', async () => {
      await stop();
      await start({ refreshTimeoutMs: 1000 });
      const before = stored();
      const release = as.holdRefreshes();
      try {
        await expect(client.refresh(mcp.url)).rejects.toMatchObject({ code: 'refresh_failed', data: { resource: mcp.url, outcome: 'unknown' } });
        const status = (await client.status()).credentials[0]!;
        expect(status.state).toBe('error');
        expect(status.last_error).toMatch(/^outcome unknown/);
        expect((await client.getToken(mcp.url)).access_token).toBe(before.accessToken.reveal());
        // The scheduler runs up to just before the access token expires: no second presentation.
        await clock.advance(before.expiresAt! - clock.now() - SEC);
        await daemon.scheduler.whenIdle();
        await expect(client.getToken(mcp.url, { minTtl: 5 })).rejects.toMatchObject({ code: 'refresh_failed' });
        expect(refreshRequests()).toHaveLength(1);
        expect(stored().refreshToken?.reveal()).toBe(before.refreshToken?.reveal());
      } finally {
        release();
      }
    });

    it('T2: should treat a connection reset after the request as "outcome unknown", keep the credential, and refresh again once the access token expired', async () => {
      const before = stored();
      as.setDown('reset');
      await expect(client.refresh(mcp.url)).rejects.toMatchObject({ code: 'refresh_failed', data: { outcome: 'unknown' } });
      const status = (await client.status()).credentials[0]!;
      expect(status).toMatchObject({ state: 'error', has_refresh_token: true });
      expect(status.last_error).toMatch(/^outcome unknown/);
      expect((await client.getToken(mcp.url)).access_token).toBe(before.accessToken.reveal());
      await clock.advance(before.expiresAt! - clock.now() - SEC);
      await daemon.scheduler.whenIdle();
      expect(refreshRequests()).toHaveLength(1);

      // This server never processed the request: once the access token is
      // useless anyway, the same refresh token is tried again, and works.
      as.setDown(false);
      await clock.advance(2 * SEC);
      await daemon.scheduler.whenIdle();
      expect(refreshRequests().map((r) => r.status)).toEqual([undefined, 200]);
      expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', last_error: null });
      await expect(client.refresh(mcp.url)).resolves.toMatchObject({ resource: mcp.url });
    });
  });

  describe('a 200 that fails our checks keeps the grant (issue 12 follow-up, invariant 7)', () => {
    const audOf = (token: string) => decodeJwtPayload(token)?.['aud'];

    it('R5 T2: should keep the rotated refresh token of a wrong-audience answer, never serve its access token, and refresh with it next', async () => {
      const before = stored();
      // One refresh answered 200 with a token for another audience (and, this server rotating, a new refresh token).
      as.setIgnoreResource(true);
      await expect(client.refresh(mcp.url)).rejects.toMatchObject({ code: 'refresh_failed' });
      as.setIgnoreResource(false);
      expect(refreshRequests().map((r) => r.status)).toEqual([200]);

      const status = (await client.status()).credentials[0]!;
      expect(status).toMatchObject({ state: 'error', has_refresh_token: true });
      expect(status.last_error).toMatch(/audience_mismatch.*resource indicator/);
      // The rejected access token was never stored nor served: the old one is, while it lives.
      expect(stored().accessToken.equals(before.accessToken)).toBe(true);
      const served = await client.getToken(mcp.url);
      expect(served.access_token === before.accessToken.reveal()).toBe(true);
      expect(audOf(served.access_token)).toBe(mcp.url);
      // The grant now lives in the rotated refresh token, and it is what the next refresh presents.
      expect(stored().refreshToken?.equals(before.refreshToken)).toBe(false);

      await expect(client.refresh(mcp.url)).resolves.toMatchObject({ resource: mcp.url });
      expect(refreshRequests().map((r) => r.status)).toEqual([200, 200]);
      const presented = refreshRequests().map((r) => paramValues(r, 'refresh_token')[0]);
      expect(new Set(presented).size).toBe(2);
      expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', last_error: null });
      const fresh = await client.getToken(mcp.url);
      expect(fresh.access_token === before.accessToken.reveal()).toBe(false);
      expect(audOf(fresh.access_token)).toBe(mcp.url);
      // And the chain goes on.
      await expect(client.refresh(mcp.url)).resolves.toMatchObject({ resource: mcp.url });
      expect(refreshRequests().map((r) => r.status)).toEqual([200, 200, 200]);
    });

    it('T2: should let the scheduled retry present the refresh token a rejected answer issued', async () => {
      const before = stored();
      as.setIgnoreResource(true);
      await expect(client.refresh(mcp.url)).rejects.toMatchObject({ code: 'refresh_failed', data: { check: 'audience_mismatch' } });
      as.setIgnoreResource(false);
      const retryAt = stored().nextAttemptAt!;
      expect(retryAt).toBeLessThan(before.expiresAt!);
      // Nothing is presented again before the backoff ends; then the scheduler retries by itself.
      await clock.advance(retryAt - clock.now() - SEC);
      await daemon.scheduler.whenIdle();
      expect(refreshRequests()).toHaveLength(1);
      await clock.advance(2 * SEC);
      await daemon.scheduler.whenIdle();
      await until(() => stored().state === 'valid', 'the scheduled retry to be stored');
      expect(refreshRequests().map((r) => r.status)).toEqual([200, 200]);
      expect(audOf((await client.getToken(mcp.url)).access_token)).toBe(mcp.url);
    });
  });

  it('S2: should check scopes after a refresh that narrowed them (issue 12 item 6)', async () => {
    expect(stored().scopes).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin']));
    as.setRefreshScope('mcp:tools');
    await clock.advance(10 * SEC); // 20 s left: a min_ttl of 25 forces a refresh the server can meet
    await expect(client.getToken(mcp.url, { scopes: ['mcp:admin'], minTtl: 25 })).rejects.toMatchObject({
      code: 'insufficient_scope',
      data: { resource: mcp.url, missing: ['mcp:admin'] },
    });
    expect(refreshRequests()).toHaveLength(1);
    expect(stored().scopes).toEqual(['mcp:tools']);
    // What the refresh did grant is still served.
    await expect(client.getToken(mcp.url, { scopes: ['mcp:tools'] })).resolves.toMatchObject({ scopes: ['mcp:tools'] });
  });

  it('should answer a min_ttl longer than the server issues from the store after one refresh (issue 12 item 5)', async () => {
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await client.getToken(mcp.url, { minTtl: 2 * TOKEN_TTL_SEC }).catch((err: unknown) => err));
    }
    expect(refreshRequests()).toHaveLength(1);
    const record = stored();
    for (const answer of answers) {
      expect(answer).toMatchObject({
        code: 'expired',
        data: { resource: mcp.url, expires_at: Math.floor(record.expiresAt! / 1000), token_lifetime: TOKEN_TTL_SEC },
      });
    }
    // A min_ttl the server's tokens can meet still refreshes.
    await clock.advance(10 * SEC);
    await expect(client.getToken(mcp.url, { minTtl: 25 })).resolves.toMatchObject({ resource: mcp.url });
    expect(refreshRequests()).toHaveLength(2);
  });

  it('should never write a token the server issued into a log line', () => {
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of as.issuedSecrets()) expect(logs).not.toContain(secret);
  });
});
