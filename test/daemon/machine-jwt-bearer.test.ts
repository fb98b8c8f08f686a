// Workload identity (issue 16 item 4): the RFC 7523 §2.1 jwt-bearer grant
// with a token the platform writes to a file, against oidc-provider with the
// grant added by the fixture. The resource on every request (R1, R4), the
// audience checked (R5), the file read again at each renewal, a refused
// assertion backing off rather than asking for a login (the platform
// replaces the file), and the assertion never in a log.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, decodeJwt, jwtVerify } from 'jose';
import { JWT_BEARER_GRANT_TYPE, paramValues, secretFingerprint, startAuthServer, type AuthServer } from '../fixtures/auth-server.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry } from '../../daemon/login/login-registry.js';
import { createLogger } from '../../daemon/os/logger.js';
import { createRegrant } from '../../daemon/refresh/regrant.js';
import { TokenRefresher } from '../../daemon/refresh/token-refresher.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { AuthdError } from '../../shared/errors.js';
import { recordOutput, recordSecret } from '../helpers/secret-ledger.js';

let as: AuthServer;
let mcp: McpTestServer;
let platformKey: { privateKey: KeyObject; publicKey: KeyObject };
/** Assertions the AS stops accepting (the platform revoked them). */
const revoked = new Set<string>();
let dir: string;
let logs = '';
const logger = createLogger({
  level: 'debug',
  stream: new Writable({
    write(chunk: Buffer, _enc, done) {
      logs += chunk.toString('utf8');
      done();
    },
  }),
});

async function workloadToken(subject: string): Promise<string> {
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://platform.invalid').setSubject(subject).setAudience(as.issuer).setIssuedAt().setExpirationTime('10m').sign(platformKey.privateKey);
  recordSecret(jwt);
  return jwt;
}

beforeAll(async () => {
  platformKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  as = await startAuthServer({
    jwtBearer: async (assertion) => {
      if (revoked.has(assertion)) return false;
      await jwtVerify(assertion, platformKey.publicKey, { audience: as.issuer, issuer: 'https://platform.invalid' });
      return true;
    },
  });
  await as.addClient({ clientId: 'workload', tokenEndpointAuthMethod: 'none', grantTypes: [JWT_BEARER_GRANT_TYPE] });
  mcp = await startMcpServer({ authServer: as, requiredScopes: [] });
  dir = mkdtempSync(join(tmpdir(), 'mcpauthd-wif-'));
});
afterAll(async () => {
  recordOutput('jwt-bearer daemon log', logs);
  rmSync(dir, { recursive: true, force: true });
  await mcp.stop();
  await as.stop();
});

describe('jwt-bearer login and renewal', () => {
  it('logs in with the token from the file, renews by reading the file again, backs off when it is refused', async () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    try {
      const file = join(dir, 'token');
      const first = await workloadToken('machine-1');
      writeFileSync(file, `${first}\n`, { mode: 0o600 });
      as.clearRequests();
      const result = await runLogin({ server_url: mcp.url, insecure_loopback: true, grant: 'jwt_bearer', client_id: 'workload', assertion_file: file }, { store, logger, logins: new LoginRegistry() }, () => {});
      expect(result).toMatchObject({ resource: mcp.resource, has_refresh_token: false });
      const login = as.requests('token').filter((r) => r.grantType === JWT_BEARER_GRANT_TYPE);
      expect(login).toHaveLength(1);
      expect(paramValues(login[0]!, 'resource')).toEqual([mcp.resource]);
      expect(paramValues(login[0]!, 'assertion')).toEqual([secretFingerprint(first)]);
      const record = store.findByResource(mcp.resource);
      expect(record).toMatchObject({ grantKind: 'jwt_bearer', refreshToken: null, loginOptions: { client_auth: 'none', assertion_file: file } });
      expect(decodeJwt(record?.accessToken.reveal() ?? '').aud).toBe(mcp.resource);

      // The platform rotates the token: the renewal reads the file again and presents the new one.
      const second = await workloadToken('machine-1');
      writeFileSync(file, second, { mode: 0o600 });
      revoked.add(first);
      const refresher = new TokenRefresher({
        store,
        grant: () => Promise.reject(new Error('no refresh token grant expected')),
        regrant: createRegrant({ store, now: Date.now }),
        logger,
      });
      const renewed = await refresher.refresh(record!, 'forced');
      expect(renewed.accessToken.equals(record!.accessToken)).toBe(false);
      const renewal = as.requests('token').filter((r) => r.grantType === JWT_BEARER_GRANT_TYPE).at(-1)!;
      expect(paramValues(renewal, 'assertion')).toEqual([secretFingerprint(second)]);
      expect(paramValues(renewal, 'resource')).toEqual([mcp.resource]);

      // A refused assertion (the file not replaced in time) backs off; the token in hand stays served.
      revoked.add(second);
      await expect(refresher.refresh(renewed, 'forced')).rejects.toMatchObject({ code: 'refresh_failed' });
      const after = store.findByResource(mcp.resource);
      expect(after?.state).toBe('error');
      expect(after?.accessToken.equals(renewed.accessToken)).toBe(true);
      for (const assertion of [first, second]) expect(logs).not.toContain(assertion);
    } finally {
      store.close();
    }
  });

  it('names the assertion file it cannot read, before any request', async () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    try {
      as.clearRequests();
      const missing = join(dir, 'missing');
      const error = await runLogin({ server_url: mcp.url, insecure_loopback: true, grant: 'jwt_bearer', client_id: 'workload', assertion_file: missing }, { store, logger, logins: new LoginRegistry() }, () => {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthdError);
      expect((error as AuthdError).data?.['reason']).toBe('assertion_unreadable');
      expect((error as AuthdError).message).toContain(missing);
      expect(as.requests('token')).toEqual([]);
    } finally {
      store.close();
    }
  });
});
