/**
 * Hostile network peers: servers that answer the daemon's login and refresh
 * requests with traps. Each case ends in a clear error, and nothing is stored
 * (no credential; for metadata-level traps, no metadata and no registration
 * either; for a refresh, the previous credential exactly as it was).
 *
 * Only the cases not already covered elsewhere are here. Where the others live:
 * - plain-http endpoint (unit): test/daemon/discovery.test.ts "A5: refuses metadata with an endpoint over plain http"
 * - cross-origin metadata redirect (unit): test/daemon/http-fetch.test.ts "follows a same-origin redirect ... refuses a cross-origin one"
 * - oversized bodies (300-400 KiB), non-JSON PRM and token responses: test/daemon/login-flow.test.ts,
 *   test/daemon/oauth-client.test.ts, test/daemon/http-fetch.test.ts
 * - a body that never finishes (metadata): test/daemon/http-fetch.test.ts "times out on a body that never ends"
 * - expires_in negative or a string, token_type other than Bearer (login): test/daemon/login-flow.test.ts "T3: ...",
 *   test/daemon/token-response.test.ts
 * - a refresh for another audience (real AS): test/refresh-oidc.test.ts "R5: should reject a refresh ..."
 * - a callback replayed after success: test/daemon/loopback-callback.test.ts "A4: a replayed callback after success",
 *   test/daemon/login-flow.test.ts "A4: ... a replay changes nothing"
 */
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { HTTP_TIMEOUT_MS, MAX_RESPONSE_BYTES } from '../daemon/oauth/http-fetch.js';
import { runLogin } from '../daemon/login/login-flow.js';
import { LoginRegistry } from '../daemon/login/login-registry.js';
import { createOAuthClient, exchangeAuthorizationCode, buildAuthorizationRequest, refreshTokenGrant } from '../daemon/oauth/oauth-client.js';
import { registerClient } from '../daemon/oauth/registration.js';
import { createRefreshGrant } from '../daemon/refresh/refresh-grant.js';
import { Secret } from '../daemon/store/secret.js';
import { TokenRefresher } from '../daemon/refresh/token-refresher.js';
import { TokenStore, type CredentialRecord } from '../daemon/store/token-store.js';
import { AuthdError } from '../shared/errors.js';
import type { LoginParams } from '../shared/protocol/login-types.js';
import { completeLogin } from './fixtures/browser.js';
import { fakeJwt, startMockOAuth, type MockOAuth } from './daemon/support/mock-oauth.js';
import { json, startTinyServer, type TinyServer } from './daemon/support/tiny-http.js';
import { recordOutput, recordSecret } from './helpers/secret-ledger.js';
import { captureLogs, type CapturedLogs } from './helpers/test-logger.js';

const MIB = 1024 * 1024;

const started: { stop(): Promise<void> }[] = [];
const stores: TokenStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});
afterAll(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function mock(): Promise<MockOAuth> {
  const m = await startMockOAuth();
  started.push(m);
  return m;
}
async function tiny(): Promise<TinyServer> {
  const t = await startTinyServer();
  started.push(t);
  return t;
}

const capture = (): CapturedLogs => captureLogs();

interface LoginRun {
  error: AuthdError;
  store: TokenStore;
  logs: string;
}

/** A login that must fail; the scripted browser approves whatever it is shown. */
async function failedLogin(params: Pick<LoginParams, 'server_url'>): Promise<LoginRun> {
  const store = TokenStore.open(':memory:', { inMemory: true });
  stores.push(store);
  const { logger, text } = capture();
  const browsers: Promise<unknown>[] = [];
  const error = await runLogin({ insecure_loopback: true, timeout: 20, ...params }, { store, logger, logins: new LoginRegistry() }, (event) => {
    if (event.stage === 'authorize_url') browsers.push(completeLogin(event.authorize_url ?? '').catch((e: unknown) => e));
  }).then(
    () => undefined,
    (err: unknown) => err,
  );
  await Promise.all(browsers);
  expect(error).toBeInstanceOf(AuthdError);
  const failure = error as AuthdError;
  expect(failure.code).toBe('login_failed');
  // Nothing stored as a credential, whatever the step that failed.
  expect(store.count()).toBe(0);
  recordOutput('hostile-peers login error', failure.message);
  recordOutput('hostile-peers login log', text());
  return { error: failure, store, logs: text() };
}

/** The metadata-level traps must leave no trace at all: no AS metadata, no registration, no authorize request. */
function nothingAtAll(run: LoginRun, m: MockOAuth): void {
  expect(run.store.getAuthorizationServer(m.origin)).toBeUndefined();
  expect(run.store.getClientRegistration(m.origin)).toBeUndefined();
  expect(m.requests('/register')).toHaveLength(0);
  expect(m.requests('/authorize')).toHaveLength(0);
  expect(m.requests('/token')).toHaveLength(0);
}

/** Streams `total` bytes of JSON-ish filler, honouring backpressure; resolves with what was written before the peer hung up. */
function streamHuge(res: http.ServerResponse, total: number, sent: { bytes: number; finished: boolean }): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  res.write('{"padding":"');
  const pump = (): void => {
    while (sent.bytes < total) {
      if (res.destroyed) return;
      sent.bytes += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end('"}');
    sent.finished = true;
  };
  res.on('error', () => undefined);
  pump();
}

describe('hostile peers during a login', () => {
  it('should refuse AS metadata with a javascript: authorization endpoint, naming the scheme', async () => {
    const m = await mock();
    m.metadata = { ...m.metadata, authorization_endpoint: 'javascript:alert(document.cookie)' };
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('insecure_endpoint');
    expect(run.error.message).toContain('authorization endpoint must be an https URL, got scheme "javascript"');
    nothingAtAll(run, m);
  });

  it('should refuse AS metadata with a plain-http token endpoint on a non-loopback host', async () => {
    const m = await mock();
    m.metadata = { ...m.metadata, token_endpoint: 'http://as.example/token' };
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('insecure_endpoint');
    expect(run.error.message).toContain('token endpoint http://as.example uses plain HTTP; only https is allowed for non-loopback hosts');
    nothingAtAll(run, m);
  });

  it('should refuse protected resource metadata naming a javascript: authorization server', async () => {
    const m = await mock();
    m.server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) =>
      json(res, 200, { resource: m.mcpUrl, authorization_servers: ['javascript:alert(1)'] }),
    );
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.message).toMatch(/javascript/);
    expect(run.error.message).toMatch(/must be an https URL|no usable authorization server/);
    nothingAtAll(run, m);
  });

  it('should not follow AS metadata redirected to another origin, and never contact that origin', async () => {
    const m = await mock();
    const elsewhere = await tiny();
    elsewhere.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, { ...m.metadata, issuer: m.origin }));
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      m.server.route(path, (_req, res) => {
        res.writeHead(302, { location: `${elsewhere.origin}/.well-known/oauth-authorization-server` }).end();
      });
    }
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('cross_origin_redirect');
    expect(run.error.message).toContain(`redirects to another origin (${elsewhere.origin}); not followed`);
    expect(elsewhere.requests).toHaveLength(0);
    nothingAtAll(run, m);
  });

  it('should refuse AS metadata that is not JSON, without echoing it', async () => {
    const m = await mock();
    m.server.route('/.well-known/oauth-authorization-server', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer": "unterminated secret-ish-body-7731');
    });
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('not_json');
    expect(run.error.message).toContain('is not valid JSON');
    expect(run.error.message + run.logs).not.toContain('secret-ish-body-7731');
    nothingAtAll(run, m);
  });

  it('should stop reading protected resource metadata of many megabytes at the cap', async () => {
    const m = await mock();
    const sent = { bytes: 0, finished: false };
    m.server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) => streamHuge(res, 64 * MIB, sent));
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('too_large');
    expect(run.error.message).toContain(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
    expect(sent.finished).toBe(false);
    expect(sent.bytes).toBeLessThan(16 * MIB);
    nothingAtAll(run, m);
  });

  it('should stop reading a registration answer of many megabytes, and register nothing', async () => {
    const m = await mock();
    const sent = { bytes: 0, finished: false };
    m.server.route('/register', (_req, res) => streamHuge(res, 64 * MIB, sent));
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('too_large');
    expect(sent.finished).toBe(false);
    expect(run.store.getClientRegistration(m.origin)).toBeUndefined();
    expect(m.requests('/authorize')).toHaveLength(0);
  });

  it('should refuse a registration answer that is not JSON', async () => {
    const m = await mock();
    m.server.route('/register', (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' }).end('client_id=abc&client_secret=leaky-registration-secret-99');
    });
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('not_json');
    expect(run.error.message + run.logs).not.toContain('leaky-registration-secret-99');
    expect(run.store.getClientRegistration(m.origin)).toBeUndefined();
  });

  it('should stop reading a token response of many megabytes at the cap', async () => {
    const m = await mock();
    const sent = { bytes: 0, finished: false };
    m.server.route('/token', (_req, res) => streamHuge(res, 64 * MIB, sent));
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('too_large');
    expect(sent.finished).toBe(false);
    expect(sent.bytes).toBeLessThan(16 * MIB);
  });

  it('should refuse a huge expires_in', async () => {
    const m = await mock();
    m.token = (form) => ({ status: 200, body: JSON.stringify({ access_token: fakeJwt({ aud: form.get('resource') }), token_type: 'Bearer', expires_in: 1e12 }) });
    const run = await failedLogin({ server_url: m.mcpUrl });
    expect(run.error.data?.['reason']).toBe('invalid_expires_in');
    expect(run.error.message).toContain('expires_in 1000000000000; expected seconds between 1 and');
  });
});

describe('hostile peers that never finish (time caps, openid-client customFetch included)', () => {
  // The daemon's cap is HTTP_TIMEOUT_MS; the same code path is tested here with a shorter one.
  const TIMEOUT_MS = 1000;

  async function hanging(): Promise<TinyServer> {
    const server = await tiny();
    const hang = (_req: unknown, res: http.ServerResponse): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"');
    };
    server.route('/token', hang);
    server.route('/register', hang);
    return server;
  }

  function metadataOf(origin: string) {
    return {
      issuer: origin,
      authorization_endpoint: `${origin}/authorize`,
      token_endpoint: `${origin}/token`,
      registration_endpoint: `${origin}/register`,
      code_challenge_methods_supported: ['S256'],
    };
  }

  async function timedOut(promise: Promise<unknown>): Promise<AuthdError> {
    const started = performance.now();
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(AuthdError);
    // Our timer, not openid-client's backstop: a timeout, said as one, on time.
    expect((err as AuthdError).data?.['reason']).toBe('timeout');
    expect((err as AuthdError).message).toContain(`no answer within ${TIMEOUT_MS / 1000} s`);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 900);
    return err as AuthdError;
  }

  it(`should give up on a code exchange whose response never finishes (default cap ${HTTP_TIMEOUT_MS / 1000} s)`, async () => {
    const server = await hanging();
    const client = createOAuthClient(metadataOf(server.origin), { clientId: 'c', clientSecret: null, tokenEndpointAuthMethod: 'none' }, { allowInsecureLoopback: true, timeoutMs: TIMEOUT_MS });
    const request = await buildAuthorizationRequest(client, { redirectUri: 'http://127.0.0.1:5555/callback', resource: 'https://mcp.example/mcp', scopes: [] });
    await timedOut(exchangeAuthorizationCode(client, request, { code: new Secret('code-1'), state: request.state, iss: server.origin }, Date.now));
  });

  it('should give up on a refresh whose response never finishes', async () => {
    const server = await hanging();
    const client = createOAuthClient(metadataOf(server.origin), { clientId: 'c', clientSecret: null, tokenEndpointAuthMethod: 'none' }, { allowInsecureLoopback: true, timeoutMs: TIMEOUT_MS });
    await timedOut(refreshTokenGrant(client, new Secret('rt-1'), { resource: 'https://mcp.example/mcp', grantedScopes: [], now: Date.now }));
  });

  it('should give up on a registration whose response never finishes', async () => {
    const server = await hanging();
    await timedOut(registerClient(metadataOf(server.origin), 'http://127.0.0.1:5555/callback', { allowInsecureLoopback: true, timeoutMs: TIMEOUT_MS }));
  });
});

describe('hostile peers during a refresh: the previous credential stays exactly as it was', () => {
  const RESOURCE_PATH = '/mcp';

  async function setup(answer: (form: URLSearchParams) => { status: number; body: string }) {
    const m = await mock();
    m.token = answer;
    const store = TokenStore.open(':memory:', { inMemory: true });
    stores.push(store);
    store.saveAuthorizationServer(m.origin, m.metadata);
    store.saveClientRegistration({
      issuer: m.origin,
      clientId: 'mock-client',
      clientSecret: null,
      tokenEndpointAuthMethod: 'none',
      registrationAccessToken: null,
      registrationClientUri: null,
      redirectUris: ['http://127.0.0.1/callback'],
      kind: 'dynamic',
    });
    // Opaque, 43 characters of base64url: what oidc-provider and most servers hand out.
    const refreshToken = randomBytes(32).toString('base64url');
    const accessToken = fakeJwt({ aud: `${m.origin}${RESOURCE_PATH}`, jti: randomBytes(8).toString('hex') });
    recordSecret(refreshToken);
    recordSecret(accessToken);
    const before = store.saveCredential({
      resource: `${m.origin}${RESOURCE_PATH}`,
      serverUrl: `${m.origin}${RESOURCE_PATH}`,
      issuer: m.origin,
      clientId: 'mock-client',
      scopes: ['mcp:tools'],
      accessToken: new Secret(accessToken),
      tokenType: 'Bearer',
      expiresAt: Date.now() + 600_000,
      refreshToken: new Secret(refreshToken),
      refreshAt: Date.now(),
    });
    const { logger, text } = capture();
    const refresher = new TokenRefresher({ store, grant: createRefreshGrant({ store, now: Date.now }), logger });
    return { m, store, before, refreshToken, accessToken, refresher, logs: text };
  }

  function unchanged(store: TokenStore, before: CredentialRecord, accessToken: string, refreshToken: string): CredentialRecord {
    const after = store.getByKey(before.resourceKey);
    expect(after).toBeDefined();
    expect(after?.accessToken.reveal()).toBe(accessToken);
    expect(after?.refreshToken?.reveal()).toBe(refreshToken);
    expect(after?.expiresAt).toBe(before.expiresAt);
    expect(after?.scopes).toEqual(before.scopes);
    return after as CredentialRecord;
  }

  // The refresh token a hostile answer issues: kept (the server may have retired the presented one), never shown.
  const issuedRefreshToken = randomBytes(32).toString('base64url');
  recordSecret(issuedRefreshToken);
  const token = (form: URLSearchParams, extra: Record<string, unknown>): { status: number; body: string } => ({
    status: 200,
    body: JSON.stringify({ access_token: fakeJwt({ aud: form.get('resource') }), token_type: 'Bearer', expires_in: 600, refresh_token: issuedRefreshToken, ...extra }),
  });

  it.each([
    ['a negative expires_in', (f: URLSearchParams) => token(f, { expires_in: -60 }), 'invalid_expires_in'],
    ['a huge expires_in', (f: URLSearchParams) => token(f, { expires_in: 9e15 }), 'invalid_expires_in'],
    ['a string expires_in', (f: URLSearchParams) => token(f, { expires_in: '600' }), 'invalid_expires_in'],
    ['a token type other than Bearer', (f: URLSearchParams) => token(f, { token_type: 'DPoP' }), 'unsupported_token_type'],
    ['a token for another audience', (f: URLSearchParams) => token(f, { access_token: fakeJwt({ aud: 'https://other.example/mcp' }) }), 'audience_mismatch'],
  ])('T2: should refuse a refresh answered 200 with %s, never use its access token, and keep the refresh token it issued', async (_name, answer, reason) => {
    const { store, before, accessToken, refresher, logs, m } = await setup(answer);
    const err = await refresher.refresh(before, 'test').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthdError);
    expect((err as AuthdError).code).toBe('refresh_failed');
    expect((err as AuthdError).data?.['check']).toBe(reason);
    expect(m.requests('/token')).toHaveLength(1);
    // The grant now lives in the issued refresh token; the access token, its expiry and scopes are the old ones.
    const after = unchanged(store, before, accessToken, issuedRefreshToken);
    // Kept, and retried later (a transient failure), naming the failed check.
    expect(after.state).toBe('error');
    expect(after.lastError).toContain(reason);
    const shown = `${(err as AuthdError).message}\n${after.lastError ?? ''}\n${logs()}`;
    recordOutput('hostile-peers refresh', shown);
    expect(shown.includes(issuedRefreshToken)).toBe(false);
  });

  it.each([
    ['invalid JSON', () => ({ status: 200, body: '{"access_token": "half' }), 'not_json'],
    ['many megabytes', (f: URLSearchParams) => token(f, { padding: 'p'.repeat(8 * MIB) }), 'too_large'],
  ])('T2: should call a refresh answered with %s "outcome unknown" and keep the credential', async (_name, answer, reason) => {
    const { store, before, refreshToken, accessToken, refresher, logs, m } = await setup(answer);
    const err = await refresher.refresh(before, 'test').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthdError);
    expect((err as AuthdError).code).toBe('refresh_failed');
    expect((err as AuthdError).data?.['outcome']).toBe('unknown');
    expect(((err as AuthdError).cause as AuthdError | undefined)?.data?.['reason']).toBe(reason);
    expect(m.requests('/token')).toHaveLength(1);
    // A body we cannot read may have carried a rotation: the same rule as no answer at all.
    const after = unchanged(store, before, accessToken, refreshToken);
    expect(after.state).toBe('error');
    expect(after.lastError).toMatch(/^outcome unknown/);
    recordOutput('hostile-peers refresh', `${(err as AuthdError).message}\n${after.lastError ?? ''}\n${logs()}`);
  });

  it('should not repeat a secret the server echoes in its error_description', async () => {
    let presented = '';
    const { store, before, refreshToken, accessToken, refresher, logs } = await setup((form) => {
      presented = form.get('refresh_token') ?? '';
      return { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_description: `refresh token ${presented} was revoked; access token ${accessToken} too` }) };
    });
    const err = (await refresher.refresh(before, 'test').then(
      () => undefined,
      (e: unknown) => e,
    )) as AuthdError;
    expect(presented).toBe(refreshToken);
    expect(err.code).toBe('needs_login');
    const after = unchanged(store, before, accessToken, refreshToken);
    expect(after.state).toBe('needs_login');
    const shown = [err.message, after.lastError ?? '', logs(), JSON.stringify(err.data ?? {})].join('\n');
    recordOutput('hostile-peers echo', shown);
    expect(shown).toContain('invalid_grant');
    expect(shown).toContain('was revoked');
    // Compared without printing: a failure message must not show the secret either.
    expect(shown.includes(refreshToken)).toBe(false);
    expect(shown.includes(accessToken)).toBe(false);
    expect(shown).toContain('refresh token [redacted] was revoked');
  });
});
