/**
 * SIGTERM while a refresh that token.get started (min_ttl) waits on a stalled
 * authorization server (issue 12 item 3): the daemon, a real process, must
 * wait for the answer and commit the rotation before it closes the store, so
 * that after a restart the rotated refresh token is stored and works.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../client/index.js';
import { paramValues, type AuthServer } from './fixtures/auth-server.js';
import type { McpTestServer } from './fixtures/mcp-server.js';
import { loginAndHandOver } from './helpers/clocked-daemon.js';
import { startDaemonProcess } from './helpers/daemon-process.js';
import { startOAuthServers, stopOAuthServers } from './helpers/mcp-auth-stack.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { until } from './helpers/until.js';

const TOKEN_TTL_SEC = 60;

describe('shutdown during a refresh (real process, stalled authorization server)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;

  beforeAll(async () => {
    ({ as, mcp } = await startOAuthServers({ accessTokenTtlSec: TOKEN_TTL_SEC }));
    home = makeTempHome();
    // Log in through an in-process daemon on the same state directory, then hand it over.
    await loginAndHandOver(home.paths, mcp.url, 'refresh-shutdown');
    as.clearRequests();
  });

  afterAll(async () => {
    await stopOAuthServers({ as, mcp });
    home.remove();
  });

  it('T2: should commit a min_ttl refresh answered after SIGTERM, so the rotated refresh token works after a restart', async () => {
    const refreshRequests = () => as.requests('token').filter((r) => r.grantType === 'refresh_token');
    let running = await startDaemonProcess({ ...home.env, MCPAUTHD_LOG_LEVEL: 'info' });
    const release = as.holdRefreshes();
    try {
      const client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 60_000 });
      // A min_ttl as long as the server's tokens: the stored one is always too short.
      const pending = client.getToken(mcp.url, { minTtl: TOKEN_TTL_SEC }).catch((err: unknown) => err);
      await until(() => refreshRequests().length === 1, 'the refresh to reach the server');
      running.child.kill('SIGTERM');
      // The daemon stops serving and then waits for the refresh; or, if it does
      // not wait, it closes its store and the answer below finds nobody to commit it.
      await until(() => /waiting for refreshes in flight|daemon stopped/.test(running.stderr()), 'the shutdown to wait or finish');
      release();
      expect(await running.exited).toBe(0);
      await pending;
      client.close();
    } finally {
      release();
    }
    expect(refreshRequests()).toHaveLength(1);
    await until(() => refreshRequests()[0]?.status !== undefined, 'the server to answer');
    expect(refreshRequests()[0]?.status).toBe(200);

    running = await startDaemonProcess(home.env);
    const client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 60_000 });
    try {
      expect((await client.status()).credentials[0]).toMatchObject({ state: 'valid', last_error: null });
      await expect(client.refresh(mcp.url)).resolves.toMatchObject({ resource: mcp.url });
      const [first, second] = refreshRequests();
      expect(second?.status).toBe(200);
      // The rotated refresh token was stored: the second refresh presented a new one.
      expect(paramValues(second!, 'refresh_token')).not.toEqual(paramValues(first!, 'refresh_token'));
      for (const secret of as.issuedSecrets()) expect(running.stderr()).not.toContain(secret);
    } finally {
      client.close();
      await running.stop();
    }
  }, 60_000);
});

describe('a refresh cut off by SIGKILL (real process, 8-second tokens)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;

  beforeAll(async () => {
    ({ as, mcp } = await startOAuthServers({ accessTokenTtlSec: 8 }));
    home = makeTempHome();
    // Log in through an in-process daemon on the same state directory, then hand it over.
    await loginAndHandOver(home.paths, mcp.url, 'refresh-shutdown');
    as.clearRequests();
  });

  afterAll(async () => {
    await stopOAuthServers({ as, mcp });
    home.remove();
  });

  it('T2: should treat the interrupted refresh as "outcome unknown" and present its refresh token again only after the access token expired', async () => {
    const refreshRequests = () => as.requests('token').filter((r) => r.grantType === 'refresh_token');
    let running = await startDaemonProcess(home.env);
    const release = as.holdRefreshes();
    try {
      const client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 60_000 });
      const pending = client.getToken(mcp.url, { minTtl: 8 }).catch((err: unknown) => err);
      await until(() => refreshRequests().length === 1, 'the refresh to reach the server');
      expect(await running.stop('SIGKILL')).toBeNull();
      await pending;
      client.close();
    } finally {
      // The server now rotates the refresh token; its answer finds nobody.
      release();
    }

    running = await startDaemonProcess(home.env);
    const client = new McpAuthdClient({ socket: home.paths.socket });
    try {
      const expiresAt = (await client.status()).credentials[0]!.expires_at!;
      await until(() => refreshRequests().length === 2, 'the refresh to be tried again');
      // Not at its refresh time (5-6 s into the 8 s): the retry could revoke a
      // grant whose access token is still served.
      expect(refreshRequests()[1]!.at).toBeGreaterThanOrEqual(expiresAt * 1000);
      expect(paramValues(refreshRequests()[1]!, 'refresh_token')).toEqual(paramValues(refreshRequests()[0]!, 'refresh_token'));
    } finally {
      client.close();
      await running.stop();
    }
  }, 60_000);
});
