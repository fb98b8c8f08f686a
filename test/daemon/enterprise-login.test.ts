// Enterprise-managed authorization (issue 16 item 5) end to end against real
// parts: one oidc-provider plays the company IdP (OIDC login, and RFC 8693
// token exchange for ID-JAGs through a custom grant), a second one the MCP
// server's AS (the RFC 7523 jwt-bearer grant accepting those ID-JAGs), and the
// MCP fixture checks the resulting token as a resource server would.
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { paramValues, secretFingerprint, startAuthServer, type AuthServer } from '../fixtures/auth-server.js';
import { completeLogin } from '../fixtures/browser.js';
import { ID_JAG, JWT_BEARER, TOKEN_EXCHANGE } from '../fixtures/id-jag-grants.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { recordOutput } from '../helpers/secret-ledger.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry } from '../../daemon/login/login-registry.js';
import { renewEnterpriseCredential, runIdpLogin } from '../../daemon/login/idp-session.js';
import { loadAuthorizationServer } from '../../daemon/oauth/authorization-server-metadata.js';
import { createOAuthClient } from '../../daemon/oauth/oauth-client.js';
import { createRegrant } from '../../daemon/refresh/regrant.js';
import { createLogger } from '../../daemon/os/logger.js';
import { statusPage } from '../../daemon/store/status-page.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { AuthdError } from '../../shared/errors.js';
import type { DaemonInfo } from '../../shared/protocol/types.js';
import type { LoginProgress } from '../../shared/protocol/login-types.js';

const IDP_CLIENT = { clientId: 'mcpauthd-at-idp', clientSecret: 'idp-client-secret-4f1c9a', tokenEndpointAuthMethod: 'client_secret_basic' as const };
const AS_CLIENT = { clientId: 'mcpauthd-at-as', clientSecret: 'as-client-secret-7d2e0b', tokenEndpointAuthMethod: 'client_secret_basic' as const };

const logins = new LoginRegistry();
let idp: AuthServer;
let as: AuthServer;
let mcp: McpTestServer;
let store: TokenStore;
let logs = '';
const logger = createLogger({
  level: 'debug',
  stream: new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs += chunk.toString('utf8');
      done();
    },
  }),
});
const deps = () => ({ store, logger, logins });
const http = { allowInsecureLoopback: true };

beforeAll(async () => {
  idp = await startAuthServer({
    preRegisteredClients: [{ ...IDP_CLIENT, grantTypes: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] }],
    issueIdJags: { asClientId: AS_CLIENT.clientId },
  });
  as = await startAuthServer({
    preRegisteredClients: [{ ...AS_CLIENT, grantTypes: [JWT_BEARER] }],
    acceptIdJags: { idpIssuer: idp.issuer, idpJwksUri: idp.jwksUri },
  });
  mcp = await startMcpServer({ authServer: as });
  store = TokenStore.open(':memory:', { inMemory: true });
});
afterEach(() => {
  expect(idp.serverErrors()).toEqual([]);
  expect(as.serverErrors()).toEqual([]);
  expect(logins.count).toBe(0);
});
afterAll(async () => {
  recordOutput('enterprise-login.test daemon log', logs);
  store.close();
  await Promise.all([idp.stop(), as.stop(), mcp.stop()]);
});

/** `idp.login` in the browser, the scripted browser approving at the IdP. */
async function idpLogin() {
  const browsers: Promise<unknown>[] = [];
  const result = await runIdpLogin(
    { issuer: idp.issuer, client_id: IDP_CLIENT.clientId, client_secret: IDP_CLIENT.clientSecret, insecure_loopback: true, timeout: 20 },
    deps(),
    (progress) => {
      if (progress.stage === 'authorize_url') browsers.push(completeLogin(progress.start_url ?? ''));
    },
  );
  await Promise.all(browsers);
  return result;
}

describe('idp.login: a session at the company identity provider', () => {
  it('signs in with OIDC authorization code + PKCE and keeps the ID token and its refresh token', async () => {
    const result = await idpLogin();
    expect(result).toMatchObject({ issuer: idp.issuer, client_id: IDP_CLIENT.clientId, subject: idp.accountId, has_refresh_token: true });
    const authorize = idp.requests('authorize').at(-1);
    expect(authorize).toBeDefined();
    expect(paramValues(authorize!, 'code_challenge_method')).toEqual(['S256']);
    expect(paramValues(authorize!, 'scope')[0]?.split(' ')).toEqual(expect.arrayContaining(['openid', 'offline_access']));
    const session = store.idpSessions.get(idp.issuer);
    expect(decodeJwt(session!.idToken.reveal())).toMatchObject({ iss: idp.issuer, aud: IDP_CLIENT.clientId, sub: idp.accountId });
    expect(session!.refreshToken).not.toBeNull();
  });

  it('refuses an ID token brought along that was issued to another client, and keeps the session it had', async () => {
    const before = store.idpSessions.get(idp.issuer)!.idToken.reveal();
    const err = await runIdpLogin({ issuer: idp.issuer, client_id: 'someone-else', id_token: before, insecure_loopback: true }, deps(), () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthdError);
    expect((err as AuthdError).code).toBe('login_failed');
    expect((err as AuthdError).data?.['reason']).toBe('audience_mismatch');
    expect((err as AuthdError).message).not.toContain(before);
    expect(store.idpSessions.get(idp.issuer)!.idToken.reveal()).toBe(before);
  });
});

describe('login with idp_issuer: no browser, token exchange then jwt-bearer', () => {
  it('gets a token for the MCP server through an ID-JAG, records it as enterprise, and status names the dependency', async () => {
    idp.clearRequests();
    as.clearRequests();
    const progress: LoginProgress[] = [];
    const result = await runLogin(
      { server_url: mcp.url, idp_issuer: idp.issuer, client_id: AS_CLIENT.clientId, client_secret: AS_CLIENT.clientSecret, insecure_loopback: true },
      deps(),
      (event) => progress.push(event),
    );
    expect(result).toMatchObject({ resource: mcp.resource, issuer: as.issuer });
    // Nobody was sent to a browser.
    expect(progress.map((p) => p.stage)).not.toContain('authorize_url');
    expect(as.requests('authorize')).toEqual([]);

    const exchange = idp.requests('token').at(-1)!;
    expect(exchange.grantType).toBe(TOKEN_EXCHANGE);
    expect(exchange.clientId).toBe(IDP_CLIENT.clientId);
    expect(paramValues(exchange, 'requested_token_type')).toEqual([ID_JAG]);
    expect(paramValues(exchange, 'resource')).toEqual([mcp.resource]);
    expect(paramValues(exchange, 'audience')).toEqual([as.issuer]);
    const bearer = as.requests('token').at(-1)!;
    expect(bearer.grantType).toBe(JWT_BEARER);
    expect(bearer.clientAuth).toBe('client_secret_basic');
    expect(paramValues(bearer, 'resource')).toEqual([mcp.resource]);
    expect(bearer.status).toBe(200);
    // The secret ledger knows the ID token exchanged and the ID-JAG presented (both issued by the IdP),
    // and the recorder kept only their fingerprints.
    const issuedByIdp = idp.issuedSecrets().map(secretFingerprint);
    expect(issuedByIdp).toContain(paramValues(exchange, 'subject_token')[0]);
    expect(issuedByIdp).toContain(paramValues(bearer, 'assertion')[0]);

    const credential = store.findByResource(mcp.resource)!;
    expect(credential.grantKind).toBe('enterprise');
    expect(credential.loginOptions).toEqual({ idp_issuer: idp.issuer });
    expect(decodeJwt(credential.accessToken.reveal())).toMatchObject({ aud: mcp.resource, sub: idp.accountId });
    // The resource server takes it.
    const answer = await fetch(mcp.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential.accessToken.reveal()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } }),
    });
    await answer.body?.cancel();
    expect(answer.status).toBe(200);

    const status = statusPage(store, {} as DaemonInfo, {}, Date.now());
    expect(status.idp_sessions).toEqual([expect.objectContaining({ issuer: idp.issuer, subject: idp.accountId, has_refresh_token: true, credentials: [mcp.resource] })]);
    recordOutput('enterprise-login.test status', JSON.stringify(status));
  });

  it('fails with a message naming `mcpauthd idp login` when there is no session, and stores nothing', async () => {
    const other = 'http://127.0.0.1:9/never-signed-in';
    const before = store.count();
    const err = await runLogin({ server_url: mcp.url, idp_issuer: other, insecure_loopback: true }, deps(), () => {}).catch((e: unknown) => e);
    expect((err as AuthdError).code).toBe('login_failed');
    expect((err as AuthdError).message).toContain(`mcpauthd idp login ${other}`);
    expect(store.count()).toBe(before);
  });
});

describe('renewEnterpriseCredential', () => {
  async function renew() {
    const credential = store.findByResource(mcp.resource)!;
    const { metadata } = await loadAuthorizationServer(credential.issuer, http);
    const registration = store.getClientRegistration(credential.issuer, credential.clientId)!;
    return renewEnterpriseCredential({
      resource: credential.resource,
      scopes: credential.scopes,
      idpIssuer: String(credential.loginOptions?.['idp_issuer']),
      asClient: createOAuthClient(metadata, registration, http),
      store,
      http,
      now: Date.now,
    });
  }

  it('gets a new token with a fresh ID-JAG, without a refresh token', async () => {
    const old = store.findByResource(mcp.resource)!.accessToken.reveal();
    idp.clearRequests();
    as.clearRequests();
    const tokens = await renew();
    expect(tokens.accessToken.reveal()).not.toBe(old);
    expect(decodeJwt(tokens.accessToken.reveal()).aud).toBe(mcp.resource);
    expect(idp.requests('token').map((r) => r.grantType)).toEqual([TOKEN_EXCHANGE]);
    expect(as.requests('token').map((r) => r.grantType)).toEqual([JWT_BEARER]);
  });

  it('renews an expired ID token with the session refresh token first, and keeps the renewed session', async () => {
    const session = store.idpSessions.get(idp.issuer)!;
    store.idpSessions.save({ ...session, idTokenExpiresAt: Date.now() - 1000 });
    idp.clearRequests();
    await renew();
    expect(idp.requests('token').map((r) => r.grantType)).toEqual(['refresh_token', TOKEN_EXCHANGE]);
    const renewed = store.idpSessions.get(idp.issuer)!;
    expect(renewed.idToken.reveal()).not.toBe(session.idToken.reveal());
    expect(renewed.idTokenExpiresAt).toBeGreaterThan(Date.now());
  });

  it('an expired session without a refresh token asks for `mcpauthd idp login`', async () => {
    const session = store.idpSessions.get(idp.issuer)!;
    store.idpSessions.save({ ...session, idTokenExpiresAt: Date.now() - 1000, refreshToken: null });
    const err = await renew().catch((e: unknown) => e);
    expect((err as AuthdError).message).toContain(`run: mcpauthd idp login ${idp.issuer}`);
    store.idpSessions.save(session);
  });
});

describe('renewal on schedule (the refresher runs the grant again by grant kind)', () => {
  it('schedules an enterprise credential without a refresh token and renews it through REGRANTS', async () => {
    const credential = store.findByResource(mcp.resource)!;
    expect(credential).toMatchObject({ grantKind: 'enterprise', refreshToken: null });
    // Without a refresh time the scheduler would never pick it, and it would simply expire.
    expect(credential.refreshAt).not.toBeNull();
    expect(store.dueForRefresh(credential.refreshAt!, 10).map((r) => r.resource)).toContain(credential.resource);
    idp.clearRequests();
    as.clearRequests();
    const regrant = createRegrant({ store, now: Date.now });
    const tokens = await regrant({ record: credential, registration: store.getClientRegistration(credential.issuer, credential.clientId) });
    expect(tokens.accessToken.reveal()).not.toBe(credential.accessToken.reveal());
    expect(decodeJwt(tokens.accessToken.reveal()).aud).toBe(mcp.resource);
    expect(idp.requests('token').map((r) => r.grantType)).toEqual([TOKEN_EXCHANGE]);
    expect(paramValues(as.requests('token').at(-1)!, 'resource')).toEqual([mcp.resource]);
  });
});
