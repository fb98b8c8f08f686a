// A machine credential has no refresh token: the daemon runs its grant again
// on the schedule a refresh would have (issue 16 item 4), with the resource
// on every request (R3, R4), one renewal per resource at a time (T2), a newer
// login winning, and failures classified. A real daemon in this process with
// a hand-moved clock, against the real oidc-provider.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { paramValues, startAuthServer, type AuthServer } from '../fixtures/auth-server.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { createLogger } from '../../daemon/os/logger.js';
import { McpAuthdClient } from '../../client/authd-client.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { recordOutput } from '../helpers/secret-ledger.js';
import { until } from '../helpers/until.js';

const SECRET = 'renewal-secret-for-tests-0123456789';
const TTL_SEC = 600;
let as: AuthServer;
let mcp: McpTestServer;
let clock: ManualClock;
let td: TestDaemon;

beforeAll(async () => {
  as = await startAuthServer({
    clientCredentials: true,
    accessTokenTtlSec: TTL_SEC,
    preRegisteredClients: [{ clientId: 'renew-bot', clientSecret: SECRET, tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['client_credentials'] }],
  });
  mcp = await startMcpServer({ authServer: as, requiredScopes: [] });
});
afterAll(async () => {
  await mcp.stop();
  await as.stop();
});

beforeEach(async () => {
  as.setDown(false);
  clock = new ManualClock(Date.now());
  td = await startTestDaemon({ clock });
  const quiet = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });
  await runLogin(
    { server_url: mcp.url, insecure_loopback: true, grant: 'client_credentials', client_id: 'renew-bot', client_secret: SECRET },
    { store: td.daemon.store, logger: quiet, logins: td.daemon.logins, now: () => clock.now() },
    () => {},
  );
  td.daemon.scheduler.reschedule();
  as.clearRequests();
});

async function stopDaemon(): Promise<void> {
  recordOutput('machine renewal daemon log', td.logs());
  await td.stop();
}

const credential = () => {
  const record = td.daemon.store.findByResource(mcp.resource);
  if (record === undefined) throw new Error('the credential is gone');
  return record;
};
const ccRequests = () => as.requests('token').filter((r) => r.grantType === 'client_credentials' && r.finishedAt !== undefined);

describe('renewal by running the grant again', () => {
  it('renews on schedule, before expiry, with the resource, and serves the new token (R3, R4, R5)', async () => {
    try {
      const before = credential();
      expect(before.refreshToken).toBeNull();
      const refreshAt = before.refreshAt as number;
      expect(refreshAt).toBeLessThan(before.expiresAt as number);
      // Nothing happens before the due time.
      await clock.advance(refreshAt - clock.now() - 1000);
      expect(ccRequests()).toHaveLength(0);
      await clock.advance(2000);
      await until(() => !credential().accessToken.equals(before.accessToken), 'the renewed access token to be stored');
      await td.daemon.scheduler.whenIdle();

      const requests = ccRequests();
      expect(requests).toHaveLength(1);
      expect(paramValues(requests[0]!, 'resource')).toEqual([mcp.resource]);
      const after = credential();
      expect(after).toMatchObject({ state: 'valid', grantKind: 'client_credentials', refreshToken: null, failureCount: 0 });
      expect(decodeJwt(after.accessToken.reveal()).aud).toBe(mcp.resource);
      expect(after.refreshAt as number).toBeGreaterThan(clock.now());

      // What a client asks for is the renewed token; status shows no secret.
      const client = new McpAuthdClient({ socket: td.home.paths.socket });
      try {
        const token = await client.getToken(mcp.url);
        expect(token.access_token).toBe(after.accessToken.reveal());
        const status = JSON.stringify(await client.status());
        recordOutput('machine renewal status', status);
        expect(status).not.toContain(SECRET);
        expect(status).not.toContain(after.accessToken.reveal());
      } finally {
        client.close();
      }
      expect(td.logs()).not.toContain(SECRET);
    } finally {
      await stopDaemon();
    }
  });

  it('runs one renewal per resource at a time, however many ask (T2)', async () => {
    try {
      as.setTokenDelayMs(200);
      const record = credential();
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => td.daemon.refresher.refresh(record, 'forced')));
      expect(a?.accessToken.equals(b?.accessToken)).toBe(true);
      expect(b?.accessToken.equals(c?.accessToken)).toBe(true);
      expect(ccRequests()).toHaveLength(1);
    } finally {
      as.setTokenDelayMs(0);
      await stopDaemon();
    }
  });

  it('backs off on a server error and keeps serving the token it has', async () => {
    try {
      const before = credential();
      as.setDown('503');
      await expect(td.daemon.refresher.refresh(before, 'forced')).rejects.toMatchObject({ code: 'refresh_failed' });
      const after = credential();
      expect(after.state).toBe('error');
      expect(after.nextAttemptAt as number).toBeGreaterThan(clock.now());
      expect(after.accessToken.equals(before.accessToken)).toBe(true);
    } finally {
      await stopDaemon();
    }
  });

  it('asks for a login when the client is refused, keeping the registration (its key cannot be made again)', async () => {
    try {
      as.setDown('invalid_client');
      const refused = (await td.daemon.refresher.refresh(credential(), 'forced').catch((e: unknown) => e)) as Error;
      expect(refused).toMatchObject({ code: 'needs_login' });
      // The fix names the same kind of login, and the secret only as a file to give again.
      expect(refused.message).toContain(`mcpauthd login ${mcp.url} --client-credentials --client-id renew-bot --client-secret-file FILE`);
      expect(credential().state).toBe('needs_login');
      expect(td.daemon.store.getClientRegistration(as.issuer, 'renew-bot')).toBeDefined();
    } finally {
      await stopDaemon();
    }
  });
});
