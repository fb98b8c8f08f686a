// Logins without a person (issue 16 item 4) against the real oidc-provider
// with client credentials on, and a real MCP SDK server as the resource:
// client_secret_basic and private_key_jwt (a key the daemon makes and the
// user registers, or one the user brings), the resource on every token
// request (R1, R4), the audience checked (R5), nothing secret in the logs.
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { paramValues, startAuthServer, type AuthServer } from '../fixtures/auth-server.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry } from '../../daemon/login/login-registry.js';
import { createLogger } from '../../daemon/os/logger.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { AuthdError } from '../../shared/errors.js';
import type { LoginParams, LoginProgress, LoginResult, PublicJwk } from '../../shared/protocol/login-types.js';
import { recordOutput, recordPrivateJwk, recordSecret } from '../helpers/secret-ledger.js';

const SECRET = 'machine-secret-for-tests-0123456789';
let as: AuthServer;
let mcp: McpTestServer;
const logins = new LoginRegistry();
const stores: TokenStore[] = [];

beforeAll(async () => {
  as = await startAuthServer({
    clientCredentials: true,
    preRegisteredClients: [{ clientId: 'ci-basic', clientSecret: SECRET, tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['client_credentials'] }],
  });
  mcp = await startMcpServer({ authServer: as, requiredScopes: [] });
});
afterAll(async () => {
  await mcp.stop();
  await as.stop();
});
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

interface Run {
  result?: LoginResult;
  error?: AuthdError;
  progress: LoginProgress[];
  logs: string;
}

async function login(params: Omit<LoginParams, 'server_url' | 'insecure_loopback'>, store: TokenStore): Promise<Run> {
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
  const progress: LoginProgress[] = [];
  const run: Run = { progress, logs: '' };
  try {
    run.result = await runLogin({ server_url: mcp.url, insecure_loopback: true, ...params }, { store, logger, logins }, (event) => progress.push(event));
  } catch (err) {
    if (!(err instanceof AuthdError)) throw err;
    run.error = err;
    recordOutput('machine login error', err.message);
  }
  run.logs = logs;
  recordOutput('machine login daemon log', logs);
  recordOutput('machine login progress', JSON.stringify(progress));
  return run;
}

function newStore(): TokenStore {
  const store = TokenStore.open(':memory:', { inMemory: true });
  stores.push(store);
  return store;
}

/** The last client_credentials token request the AS saw. */
function lastClientCredentialsRequest() {
  const request = as.requests('token').filter((r) => r.grantType === 'client_credentials').at(-1);
  if (request === undefined) throw new Error('no client_credentials token request reached the AS');
  return request;
}

describe('client credentials with client_secret_basic', () => {
  it('gets a token for exactly the resource, with the resource on the request, and keeps no refresh token (R1, R4, R5)', async () => {
    const store = newStore();
    as.clearRequests();
    const run = await login({ grant: 'client_credentials', client_id: 'ci-basic', client_secret: SECRET }, store);
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ resource: mcp.resource, issuer: as.issuer, has_refresh_token: false });
    expect(run.progress.map((p) => p.stage)).toEqual(['discovered', 'registered', 'exchanging']);

    const request = lastClientCredentialsRequest();
    expect(request.status).toBe(200);
    expect(request.clientAuth).toBe('client_secret_basic');
    expect(paramValues(request, 'resource')).toEqual([mcp.resource]);
    // No browser: nothing went to the authorization endpoint.
    expect(as.requests('authorize')).toEqual([]);

    const record = store.findByResource(mcp.resource);
    expect(record?.grantKind).toBe('client_credentials');
    expect(record?.refreshToken).toBeNull();
    expect(record?.refreshAt).not.toBeNull();
    expect(record?.loginOptions).toEqual({ client_auth: 'client_secret_basic' });
    expect(decodeJwt(record?.accessToken.reveal() ?? '').aud).toBe(mcp.resource);
    expect(run.logs).not.toContain(SECRET);
  });

  it('refuses an audience other than the resource, storing nothing (R5)', async () => {
    const store = newStore();
    as.setIgnoreResource(true);
    try {
      const run = await login({ grant: 'client_credentials', client_id: 'ci-basic', client_secret: SECRET }, store);
      expect(run.error?.data?.['reason']).toBe('audience_mismatch');
      expect(store.findByResource(mcp.resource)).toBeUndefined();
    } finally {
      as.setIgnoreResource(false);
    }
  });

  it('names the fix when the secret or the client id is missing, before any request', async () => {
    const store = newStore();
    as.clearRequests();
    const noSecret = await login({ grant: 'client_credentials', client_id: 'ci-basic', client_auth: 'client_secret_basic' }, store);
    expect(noSecret.error?.code).toBe('invalid_request');
    expect(noSecret.error?.message).toContain('--client-secret-file');
    const noId = await login({ grant: 'client_credentials' }, store);
    expect(noId.error?.message).toContain('--client-id');
    expect(as.requests('token')).toEqual([]);
  });
});

describe('client credentials with private_key_jwt', () => {
  it('makes a key, keeps it, shows only its public half; once registered, the same key logs in (RFC 7523 §2.2)', async () => {
    const store = newStore();
    const first = await login({ grant: 'client_credentials', client_id: 'ci-key' }, store);
    // The AS does not know the client yet: the error says to register the key shown.
    expect(first.error?.data?.['reason']).toBe('invalid_client');
    expect(first.error?.message).toMatch(/register the public key/);
    const announced = first.progress.find((p) => p.stage === 'client_key');
    expect(announced).toMatchObject({ client_id: 'ci-key', generated: true, issuer: as.issuer });
    const publicJwk = announced?.public_jwk as PublicJwk;
    expect(publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(publicJwk).not.toHaveProperty('d');
    const stored = store.getClientRegistration(as.issuer, 'ci-key');
    expect(stored?.tokenEndpointAuthMethod).toBe('private_key_jwt');
    const privateJwk = stored?.clientKey?.reveal() ?? '';
    recordPrivateJwk(privateJwk);
    expect(first.logs).not.toContain((JSON.parse(privateJwk) as { d: string }).d);
    expect(store.findByResource(mcp.resource)).toBeUndefined();

    // The administrator registers the printed key; the same command now works, with the same key.
    await as.addClient({ clientId: 'ci-key', tokenEndpointAuthMethod: 'private_key_jwt', grantTypes: ['client_credentials'], jwks: { keys: [publicJwk] } });
    as.clearRequests();
    const second = await login({ grant: 'client_credentials', client_id: 'ci-key' }, store);
    expect(second.error).toBeUndefined();
    expect(second.progress.find((p) => p.stage === 'client_key')).toMatchObject({ generated: false, public_jwk: { kid: publicJwk.kid } });
    expect(second.result?.public_jwk?.kid).toBe(publicJwk.kid);
    const request = lastClientCredentialsRequest();
    expect(request.clientAuth).toBe('private_key_jwt');
    expect(paramValues(request, 'client_assertion_type')).toEqual(['urn:ietf:params:oauth:client-assertion-type:jwt-bearer']);
    expect(paramValues(request, 'resource')).toEqual([mcp.resource]);
    const record = store.findByResource(mcp.resource);
    expect(decodeJwt(record?.accessToken.reveal() ?? '').aud).toBe(mcp.resource);
    expect(record?.loginOptions).toEqual({ client_auth: 'private_key_jwt' });
  });

  it('uses a key the user already registered (PEM), never echoing it', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const jwk = privateKey.export({ format: 'jwk' });
    recordSecret(jwk.d as string);
    await as.addClient({
      clientId: 'ci-own-key',
      tokenEndpointAuthMethod: 'private_key_jwt',
      grantTypes: ['client_credentials'],
      jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig' }] },
    });
    const store = newStore();
    const run = await login({ grant: 'client_credentials', client_id: 'ci-own-key', client_key: pem }, store);
    expect(run.error).toBeUndefined();
    expect(run.progress.find((p) => p.stage === 'client_key')).toMatchObject({ generated: false });
    expect(run.logs).not.toContain(jwk.d as string);
    expect(store.findByResource(mcp.resource)?.grantKind).toBe('client_credentials');
  });

  it('refuses a key that is not a private key, without quoting it', async () => {
    const run = await login({ grant: 'client_credentials', client_id: 'ci-key', client_key: 'not-a-key-0123456789' }, newStore());
    expect(run.error?.data?.['reason']).toBe('client_key_invalid');
    expect(run.error?.message).not.toContain('not-a-key-0123456789');
  });
});
