// The login flow end to end against the real fixtures: oidc-provider as the
// authorization server, the MCP SDK server as the resource, and the scripted
// browser as the user. Mocks (support/mock-oauth.ts) only for faults a real
// server cannot show.
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { paramValues, startAuthServer } from '../fixtures/auth-server.js';
import type { AuthServer, AuthServerOptions } from '../fixtures/auth-server.js';
import { isLoginStartUrl } from '../../shared/login-start-url.js';
import { completeLogin } from '../fixtures/browser.js';
import type { CompleteLoginResult, ScriptedBrowserMode } from '../fixtures/browser.js';
import { startMcpServer } from '../fixtures/mcp-server.js';
import type { McpServerOptions, McpTestServer } from '../fixtures/mcp-server.js';
import type { AuthorizationServerMetadata } from '../../daemon/oauth/authorization-server-metadata.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry, MAX_PENDING_LOGINS } from '../../daemon/login/login-registry.js';
import { logout } from '../../daemon/login/logout.js';

const logins = new LoginRegistry();
import { createLogger } from '../../daemon/os/logger.js';
import { createOAuthClient, refreshTokenGrant } from '../../daemon/oauth/oauth-client.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { AuthdError } from '../../shared/errors.js';
import type { LoginParams, LoginProgress, LoginResult } from '../../shared/protocol/login-types.js';
import { bearerFor, startMockOAuth } from './support/mock-oauth.js';
import type { MockOAuth } from './support/mock-oauth.js';
import { captureLogs, quietLogger } from '../helpers/test-logger.js';

interface Run {
  result: LoginResult | undefined;
  error: AuthdError | undefined;
  progress: LoginProgress[];
  logs: string;
  store: TokenStore;
  browsers: (CompleteLoginResult | Error)[];
}

interface RunOptions {
  mode?: ScriptedBrowserMode;
  /** Replaces the scripted browser: called with each authorize_url progress event. */
  onAuthorizeUrl?: (progress: LoginProgress) => void;
  store?: TokenStore;
  signal?: AbortSignal;
}

const stores: TokenStore[] = [];
function newStore(): TokenStore {
  const store = TokenStore.open(':memory:', { inMemory: true });
  stores.push(store);
  return store;
}
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

async function login(params: Omit<LoginParams, 'insecure_loopback'> & { insecure_loopback?: boolean }, options: RunOptions = {}): Promise<Run> {
  const store = options.store ?? newStore();
  const captured = captureLogs();
  const logger = captured.logger;
  const progress: LoginProgress[] = [];
  const browsers: Promise<CompleteLoginResult | Error>[] = [];
  let result: LoginResult | undefined;
  let error: AuthdError | undefined;
  try {
    result = await runLogin(
      { insecure_loopback: true, ...params },
      { store, logger, logins },
      (event) => {
        progress.push(event);
        if (event.stage !== 'authorize_url') return;
        if (options.onAuthorizeUrl !== undefined) options.onAuthorizeUrl(event);
        // The browser starts at the single-use start URL, as `mcpauthd login` opens it.
        else browsers.push(completeLogin(event.start_url ?? '', { mode: options.mode ?? 'normal' }).catch((e: Error) => e));
      },
      options.signal,
    );
  } catch (err) {
    if (!(err instanceof AuthdError)) throw err;
    error = err;
  }
  return { result, error, progress, logs: captured.text(), store, browsers: await Promise.all(browsers) };
}

function audience(accessToken: string): string[] {
  const { aud } = decodeJwt(accessToken);
  return Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
}

/** A login that must fail: returns its error after checking nothing was stored. */
function failed(run: Run): AuthdError {
  expect(run.result).toBeUndefined();
  expect(run.error?.code).toBe('login_failed');
  expect(run.store.count()).toBe(0);
  return run.error as AuthdError;
}

const started: { stop(): Promise<void> }[] = [];
async function authServer(options?: AuthServerOptions): Promise<AuthServer> {
  const as = await startAuthServer(options);
  started.push(as);
  return as;
}
async function mcpServer(options: McpServerOptions): Promise<McpTestServer> {
  const mcp = await startMcpServer(options);
  started.push(mcp);
  return mcp;
}
async function mockServer(options?: Parameters<typeof startMockOAuth>[0]): Promise<MockOAuth> {
  const mock = await startMockOAuth(options);
  started.push(mock);
  return mock;
}
afterAll(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe('runLogin against oidc-provider and the MCP SDK server', () => {
  let as: AuthServer;
  let mcp: McpTestServer;

  beforeAll(async () => {
    as = await authServer();
    mcp = await mcpServer({ authServer: as });
  });
  afterEach(() => {
    as.clearRequests();
    expect(as.serverErrors()).toEqual([]);
    expect(logins.count).toBe(0);
  });

  it('R1, R4, R5, T3, S1, S3: logs in; the token is for the resource, the resource is sent once and identically, and the MCP server accepts it', async () => {
    const before = Date.now();
    const run = await login({ server_url: mcp.url });
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ resource: mcp.resource, server_url: mcp.url, issuer: as.issuer, scopes: ['mcp:tools'], has_refresh_token: true });
    expect(run.progress.map((p) => p.stage)).toEqual(['discovered', 'registered', 'authorize_url', 'exchanging']);

    const credential = run.store.findByResource(mcp.resource);
    expect(credential).toBeDefined();
    expect(audience(credential?.accessToken.reveal() ?? '')).toEqual([mcp.resource]);
    // T3: absolute times, from a 3600 s token.
    expect(credential?.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(credential?.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(run.result?.expires_at).toBe(Math.floor((credential?.expiresAt ?? 0) / 1000));
    // Scheduled by refresh-policy.ts, like every refresh: 60-75% into the lifetime.
    const issuedAt = (credential?.expiresAt ?? 0) - 3_600_000;
    expect(credential?.refreshAt).toBeGreaterThanOrEqual(issuedAt + 0.6 * 3_600_000);
    expect(credential?.refreshAt).toBeLessThanOrEqual(issuedAt + 0.75 * 3_600_000);

    const [authorize] = as.requests('authorize');
    const [exchange] = as.requests('token');
    expect(authorize && paramValues(authorize, 'resource')).toEqual([mcp.resource]);
    expect(exchange && paramValues(exchange, 'resource')).toEqual([mcp.resource]);
    // S1 (the challenge's scope) and S3 (offline_access: the AS lists it).
    expect(authorize && paramValues(authorize, 'scope')).toEqual(['mcp:tools offline_access']);
    expect(authorize && paramValues(authorize, 'code_challenge_method')).toEqual(['S256']);
    expect(exchange).toMatchObject({ grantType: 'authorization_code', status: 200 });

    const response = await fetch(mcp.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${credential?.accessToken.reveal() ?? ''}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } }),
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it('C3: registers a native public client with a loopback redirect URI and no scope', async () => {
    const run = await login({ server_url: mcp.url });
    expect(run.error).toBeUndefined();
    const [register] = as.requests('register');
    const params = Object.fromEntries(register?.params ?? []);
    expect(params).toMatchObject({ application_type: 'native', token_endpoint_auth_method: 'none' });
    expect(register && paramValues(register, 'grant_types')).toEqual(['authorization_code', 'refresh_token']);
    expect(register && paramValues(register, 'redirect_uris')[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(params['scope']).toBeUndefined();
    expect(run.store.getClientRegistration(as.issuer)?.kind).toBe('dynamic');
  });

  it('T1: no secret reaches a log line, a progress event, the result or a URL', async () => {
    const ok = await login({ server_url: mcp.url });
    // A forged callback is refused and the login waits for the right one, until its timeout here.
    const bad = await login({ server_url: mcp.url, timeout: 1 }, { mode: 'bad-state' });
    expect(ok.error).toBeUndefined();
    expect(bad.error).toBeDefined();
    const visible = [ok.logs, bad.logs, JSON.stringify(ok.progress), JSON.stringify(bad.progress), JSON.stringify(ok.result), bad.error?.message, JSON.stringify(bad.error)].join('\n');
    const secrets = as.issuedSecrets();
    expect(secrets.length).toBeGreaterThan(3);
    for (const secret of secrets) expect(visible).not.toContain(secret);
    expect(ok.logs).toContain('login succeeded');
  });

  it('C3, D4: reuses the registration of an issuer (checked by an RFC 7592 read), and registers again at another AS', async () => {
    const store = newStore();
    expect((await login({ server_url: mcp.url }, { store })).error).toBeUndefined();
    expect((await login({ server_url: mcp.url }, { store })).error).toBeUndefined();
    expect(as.requests('register')).toHaveLength(1);
    const clientIds = as.requests('token').map((r) => r.clientId);
    expect(clientIds[0]).toBe(clientIds[1]);

    const otherAs = await authServer();
    const otherMcp = await mcpServer({ authServer: otherAs });
    expect((await login({ server_url: otherMcp.url }, { store })).error).toBeUndefined();
    expect(otherAs.requests('register')).toHaveLength(1);
    expect(store.getClientRegistration(otherAs.issuer)?.clientId).not.toBe(store.getClientRegistration(as.issuer)?.clientId);
    expect(store.count()).toBe(2);
  });

  it('C3: registers again when the stored registration is gone at the AS', async () => {
    const store = newStore();
    store.saveClientRegistration({
      issuer: as.issuer,
      clientId: 'forgotten-client',
      clientSecret: null,
      tokenEndpointAuthMethod: 'none',
      registrationAccessToken: null,
      registrationClientUri: `${as.issuer}/register/forgotten-client`,
      redirectUris: ['http://127.0.0.1/callback'],
      kind: 'dynamic',
    });
    // A registration_access_token the AS never issued: the RFC 7592 read answers 401.
    const stale = store.getClientRegistration(as.issuer);
    store.saveClientRegistration({ ...(stale as NonNullable<typeof stale>), registrationAccessToken: new Secret('unknown-rat') });
    const run = await login({ server_url: mcp.url }, { store });
    expect(run.error).toBeUndefined();
    expect(as.requests('register')).toHaveLength(1);
    expect(store.getClientRegistration(as.issuer, 'forgotten-client')).toBeUndefined();
  });

  it('S2: a new login for the same resource asks for the union of granted and new scopes', async () => {
    const store = newStore();
    expect((await login({ server_url: mcp.url, scopes: ['mcp:tools'] }, { store })).result?.scopes).toEqual(['mcp:tools']);
    as.clearRequests();
    const second = await login({ server_url: mcp.url, scopes: ['mcp:admin'] }, { store });
    expect(second.error).toBeUndefined();
    const [authorize] = as.requests('authorize');
    expect(authorize && paramValues(authorize, 'scope')).toEqual(['mcp:admin mcp:tools offline_access']);
    expect(store.findByResource(mcp.resource)?.scopes.sort()).toEqual(['mcp:admin', 'mcp:tools']);
    expect(store.count()).toBe(1);
  });

  it('A2, issue 12 item 10: a forged state is refused (error page; invalid_request through login.callback) and the login completes with the right callback', async () => {
    let forgedStatus = 0;
    let pastedForged: unknown;
    const run = await login(
      { server_url: mcp.url },
      {
        onAuthorizeUrl: (event) => {
          void completeLogin(event.start_url ?? '', { deliverCallback: false }).then(async ({ callbackUrl }) => {
            const forged = new URL(callbackUrl);
            forged.searchParams.set('state', 'forged-state');
            forged.searchParams.set('code', 'forged-code-0000');
            forgedStatus = (await fetch(forged)).status;
            try {
              logins.submitCallbackUrl(event.login_id, forged.href);
            } catch (err) {
              pastedForged = err;
            }
            // Still waiting: the real answer arrives afterwards and completes the login.
            await fetch(callbackUrl).then((r) => r.text());
          });
        },
      },
    );
    expect(forgedStatus).toBe(400);
    expect(pastedForged).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/state does not match.*still waiting/) });
    expect(run.error).toBeUndefined();
    expect(run.store.count()).toBe(1);
    expect(as.requests('token')).toHaveLength(1);
    expect(run.logs).toContain('login callback refused, still waiting for the right one');
  });

  it('issue 13 item 1: the browser is started at a single-use loopback start URL without state or challenge', async () => {
    const run = await login({ server_url: mcp.url });
    expect(run.error).toBeUndefined();
    const event = run.progress.find((p) => p.stage === 'authorize_url');
    const authorize = new URL(event?.authorize_url ?? '');
    expect(isLoginStartUrl(event?.start_url ?? '')).toBe(true);
    for (const secret of [authorize.searchParams.get('state'), authorize.searchParams.get('code_challenge')]) {
      expect(secret).toBeTruthy();
      expect(event?.start_url).not.toContain(secret);
    }
    expect(new URL(event?.start_url ?? '').port).toBe(new URL(authorize.searchParams.get('redirect_uri') ?? '').port);
  });

  it('A2: a login that only ever gets a forged state exchanges nothing and ends at its timeout', async () => {
    const run = await login({ server_url: mcp.url, timeout: 1 }, { mode: 'bad-state' });
    expect(failed(run).data?.['reason']).toBe('timeout');
    expect(as.requests('token')).toHaveLength(0);
    expect(run.browsers[0]).toMatchObject({ callbackStatus: 400 });
  });

  it('A3, issue 12 item 10: a callback with a wrong iss is refused before any code exchange and the login keeps waiting', async () => {
    const run = await login({ server_url: mcp.url, timeout: 1 }, { mode: 'bad-iss' });
    expect(failed(run).data?.['reason']).toBe('timeout');
    expect(run.browsers[0]).toMatchObject({ callbackStatus: 400 });
    expect(run.logs).toContain('iss_mismatch');
    expect(as.requests('token')).toHaveLength(0);
  });

  it('A3: a callback without iss is refused when the AS advertises RFC 9207', async () => {
    const run = await login({ server_url: mcp.url, timeout: 1 }, { mode: 'drop-iss' });
    expect(failed(run).data?.['reason']).toBe('timeout');
    expect(run.browsers[0]).toMatchObject({ callbackStatus: 400 });
    expect(as.requests('token')).toHaveLength(0);
  });

  it('A4: the listener is up before the URL is handed out, and closed after the callback; a replay changes nothing', async () => {
    let reachable: Promise<number> | undefined;
    let redirectUri = '';
    const run = await login(
      { server_url: mcp.url },
      {
        onAuthorizeUrl: (event) => {
          redirectUri = new URL(event.authorize_url ?? '').searchParams.get('redirect_uri') ?? '';
          // Probe the port at the moment the URL is handed out, then let the browser deliver twice.
          reachable = fetch(`${new URL(redirectUri).origin}/probe`).then((r) => r.status);
          void reachable.then(() => completeLogin(event.authorize_url ?? '', { mode: 'twice' }));
        },
      },
    );
    expect(await reachable).toBe(404);
    expect(run.error).toBeUndefined();
    expect(as.requests('token')).toHaveLength(1);
    await expect(fetch(redirectUri)).rejects.toThrow();
  });

  it('A4: times out when no callback comes, and stores nothing', async () => {
    const run = await login({ server_url: mcp.url, timeout: 1 }, { mode: 'never' });
    const error = failed(run);
    expect(error.data?.['reason']).toBe('timeout');
    expect(error.message).toMatch(/no authorization callback within 1 s/);
  });

  it('accepts a redirect URL pasted by the user (browser on another machine)', async () => {
    let pasted: Promise<{ accepted: boolean }> | undefined;
    const run = await login(
      { server_url: mcp.url },
      {
        onAuthorizeUrl: (event) => {
          pasted = completeLogin(event.authorize_url ?? '', { deliverCallback: false }).then(({ callbackUrl }) => {
            expect(() => logins.submitCallbackUrl(event.login_id, 'https://elsewhere.example/callback?code=x')).toThrow(/not this login's redirect address/);
            return logins.submitCallbackUrl(event.login_id, callbackUrl);
          });
        },
      },
    );
    expect(await pasted).toEqual({ accepted: true });
    expect(run.error).toBeUndefined();
    expect(run.store.count()).toBe(1);
    expect(() => logins.submitCallbackUrl(run.progress[0]?.login_id ?? '', 'http://127.0.0.1:1/callback')).toThrow(/no login/);
  });

  it('an error= callback fails the login with the AS error', async () => {
    const run = await login(
      { server_url: mcp.url },
      {
        onAuthorizeUrl: (event) => {
          const url = new URL(event.authorize_url ?? '');
          const callback = new URL(url.searchParams.get('redirect_uri') ?? '');
          callback.search = new URLSearchParams({ error: 'access_denied', error_description: 'the user declined', state: url.searchParams.get('state') ?? '', iss: as.issuer }).toString();
          void fetch(callback).then((r) => r.text());
        },
      },
    );
    const error = failed(run);
    expect(error.data).toMatchObject({ reason: 'authorization_error', error: 'access_denied' });
    expect(error.message).toBe('login failed: the authorization server refused: access_denied (the user declined)');
  });

  it('is cancelled by its AbortSignal', async () => {
    const controller = new AbortController();
    const run = await login({ server_url: mcp.url }, { onAuthorizeUrl: () => controller.abort(), signal: controller.signal });
    expect(failed(run).data?.['reason']).toBe('aborted');
  });

  it('A5: refuses plain http to loopback unless the user opted in', async () => {
    const run = await login({ server_url: mcp.url, insecure_loopback: false });
    const error = failed(run);
    expect(error.data?.['reason']).toBe('invalid_url');
    expect(error.message).toMatch(/--insecure-loopback/);
    expect(as.requests()).toHaveLength(0);
  });

  it('refuses more than MAX_PENDING_LOGINS logins at once', async () => {
    const controller = new AbortController();
    const waiting: Promise<Run>[] = [];
    let handedOut = 0;
    let allWaiting: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      allWaiting = resolve;
    });
    for (let i = 0; i < MAX_PENDING_LOGINS; i += 1) {
      waiting.push(
        login(
          { server_url: mcp.url },
          {
            signal: controller.signal,
            onAuthorizeUrl: () => {
              handedOut += 1;
              if (handedOut === MAX_PENDING_LOGINS) allWaiting();
            },
          },
        ),
      );
    }
    await ready;
    await expect(runLogin({ server_url: mcp.url, insecure_loopback: true }, { store: newStore(), logins, logger: quietLogger() }, () => undefined)).rejects.toMatchObject({
      code: 'busy',
    });
    controller.abort();
    for (const run of await Promise.all(waiting)) expect(run.error?.data?.['reason']).toBe('aborted');
  });

  it('C1: a pre-registered confidential client authenticates the way the AS supports; it is stored only once it worked', async () => {
    const preAs = await authServer({ preRegisteredClients: [{ clientId: 'pre-basic', clientSecret: 'pre-secret-1', tokenEndpointAuthMethod: 'client_secret_basic' }] });
    const preMcp = await mcpServer({ authServer: preAs });
    const wrong = await login({ server_url: preMcp.url, client_id: 'pre-basic', client_secret: 'not-the-secret' });
    expect(failed(wrong).data?.['error']).toBe('invalid_client');
    expect(wrong.store.getClientRegistration(preAs.issuer)).toBeUndefined();

    const run = await login({ server_url: preMcp.url, client_id: 'pre-basic', client_secret: 'pre-secret-1' });
    expect(run.error).toBeUndefined();
    expect(preAs.requests('register')).toHaveLength(0);
    expect(preAs.requests('token').at(-1)).toMatchObject({ clientAuth: 'client_secret_basic', clientId: 'pre-basic', status: 200 });
    expect(run.store.getClientRegistration(preAs.issuer)).toMatchObject({ clientId: 'pre-basic', kind: 'preregistered', tokenEndpointAuthMethod: 'client_secret_basic' });
    expect(run.logs).not.toContain('pre-secret-1');
  });

  it('R5 (the seed bug): an AS that ignores the resource indicator fails the login with a clear error and stores nothing', async () => {
    const brokenAs = await authServer({ ignoreResource: true });
    const brokenMcp = await mcpServer({ authServer: brokenAs });
    const run = await login({ server_url: brokenMcp.url });
    const error = failed(run);
    expect(error.data?.['reason']).toBe('audience_mismatch');
    expect(error.message).toBe(
      `login failed: authorization server ignored the resource indicator: token aud is "${brokenAs.defaultAudience}", expected "${brokenMcp.resource}"`,
    );
    // The client did send it, on both requests; the AS dropped it.
    expect(brokenAs.requests('authorize').flatMap((r) => paramValues(r, 'resource'))).toEqual([brokenMcp.resource]);
    expect(brokenAs.requests('token').flatMap((r) => paramValues(r, 'resource'))).toEqual([brokenMcp.resource]);
  });

  it('D3: PRM naming another resource stops the login before any authorization request', async () => {
    const lyingMcp = await mcpServer({ authServer: as, prmResource: 'https://victim.example/mcp' });
    const run = await login({ server_url: lyingMcp.url });
    const error = failed(run);
    expect(error.data?.['reason']).toBe('resource_mismatch');
    expect(error.message).toContain('https://victim.example/mcp');
    expect(as.requests()).toHaveLength(0);
    expect(run.progress).toEqual([]);
  });

  it('R3: the exported refresh grant sends the login resource again and gets a token for it', async () => {
    const run = await login({ server_url: mcp.url });
    const credential = run.store.findByResource(mcp.resource);
    const metadata = run.store.getAuthorizationServer(as.issuer)?.metadata as AuthorizationServerMetadata;
    const registration = run.store.getClientRegistration(as.issuer, credential?.clientId);
    if (credential === undefined || registration === undefined || credential.refreshToken === null) throw new Error('login did not store what a refresh needs');
    const client = createOAuthClient(metadata, registration, { allowInsecureLoopback: true });
    const tokens = await refreshTokenGrant(client, credential.refreshToken, { resource: credential.resource, grantedScopes: credential.scopes, now: Date.now });
    const refresh = as.requests('token').find((r) => r.grantType === 'refresh_token');
    expect(refresh && paramValues(refresh, 'resource')).toEqual([mcp.resource]);
    expect(refresh && paramValues(refresh, 'scope')).toEqual([]);
    expect(audience(tokens.accessToken.reveal())).toEqual([mcp.resource]);
    expect(tokens.refreshToken?.equals(credential.refreshToken)).toBe(false);
  });

  it('T4: logout revokes the refresh token and reports the access token the AS declined', async () => {
    const run = await login({ server_url: mcp.url });
    const credential = run.store.findByResource(mcp.resource);
    if (credential === undefined) throw new Error('no credential');
    const logger = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) });
    expect(await logout(credential, { store: run.store, logger })).toEqual({
      revoked: false,
      revocationSupported: true,
      errors: [],
      revokedTokens: ['refresh_token'],
      declinedTokens: ['access_token'],
    });
    const revocations = as.requests('revoke');
    expect(revocations.map((r) => paramValues(r, 'token_type_hint')[0])).toEqual(['refresh_token', 'access_token']);
    // oidc-provider revokes the refresh token (and its grant); JWT access tokens it declines
    // with unsupported_token_type, which RFC 7009 allows and logout does not count as a failure.
    expect(revocations.map((r) => r.status)).toEqual([200, 400]);
    // The refresh token is dead now.
    const metadata = run.store.getAuthorizationServer(as.issuer)?.metadata as AuthorizationServerMetadata;
    const client = createOAuthClient(metadata, { clientId: credential.clientId, clientSecret: null, tokenEndpointAuthMethod: 'none' }, { allowInsecureLoopback: true });
    await expect(
      refreshTokenGrant(client, credential.refreshToken ?? credential.accessToken, { resource: credential.resource, grantedScopes: [], now: Date.now }),
    ).rejects.toMatchObject({ data: { error: 'invalid_grant' } });
  });

  it('T4: logout reports a revocation failure without throwing', async () => {
    const run = await login({ server_url: mcp.url });
    const credential = run.store.findByResource(mcp.resource);
    if (credential === undefined) throw new Error('no credential');
    const metadata = run.store.getAuthorizationServer(as.issuer)?.metadata as AuthorizationServerMetadata;
    const gone = await mockServer();
    await gone.stop();
    run.store.saveAuthorizationServer(as.issuer, { ...metadata, revocation_endpoint: `${gone.origin}/revoke` });
    const logger = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) });
    const outcome = await logout(credential, { store: run.store, logger });
    expect(outcome.revoked).toBe(false);
    expect(outcome.errors).toHaveLength(2);
    expect(outcome.errors[0]).toMatch(/refresh token not revoked: .*ECONNREFUSED/);
  });

  it('re-fetches stored AS metadata when it led to a failure before the user was involved', async () => {
    const store = newStore();
    const fresh = (await (await fetch(`${as.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    store.saveAuthorizationServer(as.issuer, { ...fresh, registration_endpoint: `${as.issuer}/moved-away` });
    const run = await login({ server_url: mcp.url }, { store });
    expect(run.error).toBeUndefined();
    expect(as.requests('register')).toHaveLength(1);
    expect(store.getAuthorizationServer(as.issuer)?.metadata['registration_endpoint']).toBe(as.registrationEndpoint);
    expect(run.logs).toContain('retrying with fresh authorization server metadata');
  });
});

describe('runLogin against broken or hostile servers', () => {
  it('D6: AS metadata naming another issuer is not used', async () => {
    const mock = await mockServer();
    mock.metadata = { ...mock.metadata, issuer: 'https://evil.example' };
    const error = failed(await login({ server_url: mock.mcpUrl }));
    expect(error.data?.['reason']).toBe('issuer_mismatch');
    expect(mock.requests('/register')).toHaveLength(0);
    expect(mock.requests('/authorize')).toHaveLength(0);
  });

  it('A1: an AS without S256 in code_challenge_methods_supported gets no login', async () => {
    const mock = await mockServer();
    mock.metadata = { ...mock.metadata, code_challenge_methods_supported: undefined };
    const run = await login({ server_url: mock.mcpUrl });
    expect(failed(run).data?.['reason']).toBe('pkce_unsupported');
    expect(mock.requests('/register')).toHaveLength(0);
    expect(run.progress).toEqual([]);
  });

  it('refuses a non-JSON PRM and oversized AS metadata', async () => {
    const mock = await mockServer();
    mock.server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>not json</html>');
    });
    expect(failed(await login({ server_url: mock.mcpUrl })).data?.['reason']).toBe('not_json');

    const big = await mockServer();
    big.metadata = { ...big.metadata, padding: 'x'.repeat(300 * 1024) };
    expect(failed(await login({ server_url: big.mcpUrl })).data?.['reason']).toBe('too_large');
  });

  it.each([
    ['a non-Bearer token type', { access_token: 'opaque', token_type: 'mac', expires_in: 60 }, 'unsupported_token_type'],
    ['a missing access_token', { token_type: 'Bearer', expires_in: 60 }, 'invalid_token_response'],
    ['a string expires_in', { access_token: 'opaque', token_type: 'Bearer', expires_in: '3600' }, 'invalid_expires_in'],
    ['a negative expires_in', { access_token: 'opaque', token_type: 'Bearer', expires_in: -1 }, 'invalid_expires_in'],
  ])('T3: a token response with %s fails the login and stores nothing', async (_name, body, reason) => {
    const mock = await mockServer();
    mock.token = () => ({ status: 200, body: JSON.stringify(body) });
    expect(failed(await login({ server_url: mock.mcpUrl })).data?.['reason']).toBe(reason);
    expect(mock.requests('/token')).toHaveLength(1);
  });

  it('a non-JSON or oversized token response fails the login without echoing it', async () => {
    const mock = await mockServer();
    mock.token = () => ({ status: 200, body: 'access_token=plain-text-token-value' });
    const error = failed(await login({ server_url: mock.mcpUrl }));
    expect(error.data?.['reason']).toBe('not_json');
    expect(error.message).not.toContain('plain-text-token-value');
    mock.token = () => ({ status: 200, body: JSON.stringify({ access_token: 'y'.repeat(400 * 1024), token_type: 'Bearer' }) });
    expect(failed(await login({ server_url: mock.mcpUrl })).data?.['reason']).toBe('too_large');
  });

  it('R2: the PRM resource is sent byte for byte (an origin without a trailing slash stays so)', async () => {
    const mock = await mockServer();
    // Root PRM only, found without the header's help, naming the bare origin it was built from.
    mock.server.route('/mcp', (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer scope="mcp:tools"' }).end();
    });
    mock.server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) => {
      res.writeHead(404).end();
    });
    mock.server.route('/.well-known/oauth-protected-resource', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: mock.origin, authorization_servers: [mock.origin] }));
    });
    const run = await login({ server_url: mock.mcpUrl });
    expect(run.error).toBeUndefined();
    expect(run.result?.resource).toBe(mock.origin);
    expect(mock.origin.endsWith('/')).toBe(false);
    expect(mock.requests('/authorize')[0]?.query.getAll('resource')).toEqual([mock.origin]);
    expect(new URLSearchParams(mock.requests('/token')[0]?.body).getAll('resource')).toEqual([mock.origin]);
  });

  it('D7: a 2025-03-26 server without PRM or metadata: default endpoints at its origin, and the user --resource', async () => {
    const mock = await mockServer({ prm: false, asMetadata: false });
    const run = await login({ server_url: mock.mcpUrl, resource: 'https://api.example/mcp' });
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ resource: 'https://api.example/mcp', issuer: mock.origin });
    expect(mock.requests('/register')).toHaveLength(1);
    expect(mock.requests('/authorize')[0]?.query.getAll('resource')).toEqual(['https://api.example/mcp']);
    expect(new URLSearchParams(mock.requests('/token')[0]?.body).getAll('resource')).toEqual(['https://api.example/mcp']);
    expect(run.store.findByResource('https://api.example/mcp')?.serverUrls).toEqual([mock.mcpUrl]);
  });

  it('D7, R2: without PRM and without --resource the canonical server URI is the resource', async () => {
    const mock = await mockServer({ prm: false });
    const run = await login({ server_url: mock.mcpUrl.replace('http://', 'HTTP://') });
    expect(run.error).toBeUndefined();
    expect(mock.requests('/authorize')[0]?.query.getAll('resource')).toEqual([mock.mcpUrl]);
  });

  it('--resource never overrides existing PRM', async () => {
    const mock = await mockServer();
    const run = await login({ server_url: mock.mcpUrl, resource: 'https://other.example/' });
    expect(run.result?.resource).toBe(mock.mcpUrl);
    expect(run.logs).toContain('the given resource was ignored');
  });

  it('C2: a client ID metadata document URL is used as client_id without registering', async () => {
    const mock = await mockServer();
    mock.metadata = { ...mock.metadata, client_id_metadata_document_supported: true };
    const documentUrl = 'https://client.example/mcpauthd/client.json';
    const run = await login({ server_url: mock.mcpUrl, client_metadata_url: documentUrl });
    expect(run.error).toBeUndefined();
    expect(mock.requests('/register')).toHaveLength(0);
    expect(mock.requests('/authorize')[0]?.query.get('client_id')).toBe(documentUrl);
    expect(new URLSearchParams(mock.requests('/token')[0]?.body).get('client_id')).toBe(documentUrl);
    expect(run.store.getClientRegistration(mock.origin)).toMatchObject({ clientId: documentUrl, kind: 'metadata_document' });
  });

  it('C2 C3: falls back to registration when the AS does not support client ID metadata documents', async () => {
    const mock = await mockServer();
    const run = await login({ server_url: mock.mcpUrl, client_metadata_url: 'https://client.example/c.json' });
    expect(run.error).toBeUndefined();
    expect(mock.requests('/register')).toHaveLength(1);
    expect(mock.requests('/authorize')[0]?.query.get('client_id')).not.toBe('https://client.example/c.json');
    expect(run.logs).toContain('registering instead');
  });

  it('C3: an invalid_client at the code exchange drops the dynamic registration', async () => {
    const mock = await mockServer();
    mock.token = () => ({ status: 401, body: JSON.stringify({ error: 'invalid_client' }) });
    const store = newStore();
    const error = failed(await login({ server_url: mock.mcpUrl }, { store }));
    expect(error.data?.['reason']).toBe('invalid_client');
    expect(store.getClientRegistration(mock.origin)).toBeUndefined();
    mock.token = bearerFor;
    expect((await login({ server_url: mock.mcpUrl }, { store })).error).toBeUndefined();
    expect(mock.requests('/register')).toHaveLength(2);
  });

  it('refuses contradictory client options', async () => {
    const run = await login({ server_url: 'http://127.0.0.1:1/mcp', client_secret: 'orphan' });
    expect(run.error?.code).toBe('invalid_request');
    expect(run.error?.message).not.toContain('orphan');
  });
});
