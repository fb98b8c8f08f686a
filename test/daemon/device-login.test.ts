// The device authorization grant (RFC 8628, issue 16 item 1) end to end: the
// daemon's login flow against oidc-provider with features.deviceFlow, and the
// MCP SDK server as the resource. The test user approves or refuses through
// the fixture (as the verification page would). Polling waits through an
// injected sleep that does not really wait, except where the server's own
// clock must pass (expiry).
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { DEVICE_CODE_GRANT, paramValues, startAuthServer } from '../fixtures/auth-server.js';
import type { AuthServer, AuthServerOptions } from '../fixtures/auth-server.js';
import { startMcpServer } from '../fixtures/mcp-server.js';
import { completeLogin } from '../fixtures/browser.js';
import { until } from '../helpers/until.js';
import type { McpTestServer } from '../fixtures/mcp-server.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry } from '../../daemon/login/login-registry.js';
import { createLogger } from '../../daemon/os/logger.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { createRefreshGrant } from '../../daemon/refresh/refresh-grant.js';
import { TokenRefresher } from '../../daemon/refresh/token-refresher.js';
import { AuthdError } from '../../shared/errors.js';
import type { LoginParams, LoginProgress, LoginResult } from '../../shared/protocol/login-types.js';

const logins = new LoginRegistry();
const quiet = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });

interface Run {
  result: LoginResult | undefined;
  error: AuthdError | undefined;
  progress: LoginProgress[];
  logs: string;
  store: TokenStore;
  /** Every wait the poller asked for, in ms. */
  waits: number[];
}

type User = (userCode: string) => Promise<void> | void;

const stores: TokenStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

async function login(params: Omit<LoginParams, 'insecure_loopback'>, user: User, options: { realWaitMs?: number; store?: TokenStore; browser?: boolean } = {}): Promise<Run> {
  const store = options.store ?? TokenStore.open(':memory:', { inMemory: true });
  if (options.store === undefined) stores.push(store);
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
  const progress: LoginProgress[] = [];
  const waits: number[] = [];
  let acting: Promise<void> = Promise.resolve();
  // The poller's first wait starts only after the user was shown the code; the user acts meanwhile.
  const sleep = async (ms: number): Promise<void> => {
    waits.push(ms);
    await acting;
    if (options.realWaitMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.realWaitMs));
  };
  let result: LoginResult | undefined;
  let error: AuthdError | undefined;
  try {
    result = await runLogin(
      { insecure_loopback: true, ...params },
      { store, logger, logins, sleep },
      (event) => {
        progress.push(event);
        if (event.stage === 'device_code' && event.user_code !== undefined) acting = Promise.resolve(user(event.user_code));
        // A browser login (the fallback, or an earlier login): the scripted browser approves.
        if (event.stage === 'authorize_url' && options.browser === true) void completeLogin(event.start_url ?? '').catch(() => undefined);
      },
    );
  } catch (err) {
    if (!(err instanceof AuthdError)) throw err;
    error = err;
  }
  return { result, error, progress, logs, store, waits };
}

const started: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});
async function servers(options: AuthServerOptions = {}): Promise<{ as: AuthServer; mcp: McpTestServer }> {
  const as = await startAuthServer({ deviceFlow: true, ...options });
  started.push(as);
  const mcp = await startMcpServer({ authServer: as });
  started.push(mcp);
  return { as, mcp };
}

describe('device login against oidc-provider', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  beforeAll(async () => {
    ({ as, mcp } = await servers());
  });
  afterEach(() => {
    as.clearRequests();
    expect(as.serverErrors()).toEqual([]);
    expect(logins.count).toBe(0);
  });

  it('R1, R4, R5: approved; resource on the device authorization AND every token request; stored as device_code', async () => {
    const run = await login({ server_url: mcp.url, device: 'required' }, (code) => as.approveDevice(code));
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ resource: mcp.resource, issuer: as.issuer, has_refresh_token: true });
    expect(run.progress.map((p) => p.stage)).toEqual(['discovered', 'registered', 'device_code']);
    const shown = run.progress.find((p) => p.stage === 'device_code');
    expect(shown?.verification_uri).toBe(`${as.issuer}/device`);
    expect(shown?.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(shown?.expires_at).toBeGreaterThan(Date.now() / 1000 + 500);

    const [device] = as.requests('device_authorization');
    expect(device && paramValues(device, 'resource')).toEqual([mcp.resource]);
    const polls = as.requests('token').filter((r) => r.grantType === DEVICE_CODE_GRANT);
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const poll of polls) expect(paramValues(poll, 'resource')).toEqual([mcp.resource]);
    expect(polls.at(-1)?.status).toBe(200);

    // Registration asked for the device grant because this path is used.
    const [register] = as.requests('register');
    expect(register && paramValues(register, 'grant_types')).toContain(DEVICE_CODE_GRANT);

    const credential = run.store.findByResource(mcp.resource);
    expect(credential?.grantKind).toBe('device_code');
    const { aud } = decodeJwt(credential?.accessToken.reveal() ?? '');
    expect(aud).toEqual(mcp.resource);
    // The first wait is the RFC's default interval: oidc-provider names none.
    expect(run.waits[0]).toBe(5000);
  });

  it('R2: a device credential refreshes like any other, with the same resource, and stays a device_code credential', async () => {
    const run = await login({ server_url: mcp.url, device: 'required' }, (code) => as.approveDevice(code));
    expect(run.error).toBeUndefined();
    const before = run.store.findByResource(mcp.resource);
    as.clearRequests();
    const refresher = new TokenRefresher({ store: run.store, grant: createRefreshGrant({ store: run.store, now: Date.now }), logger: quiet });
    const after = await refresher.refresh(before!, 'test');
    expect(after.accessToken.reveal()).not.toBe(before?.accessToken.reveal());
    expect(after.grantKind).toBe('device_code');
    const [refresh] = as.requests('token');
    expect(refresh).toMatchObject({ grantType: 'refresh_token', status: 200 });
    expect(paramValues(refresh!, 'resource')).toEqual([mcp.resource]);
  });

  it('T1: the device code is in no progress event, log line or error', async () => {
    const run = await login({ server_url: mcp.url, device: 'required' }, (code) => as.approveDevice(code));
    expect(run.error).toBeUndefined();
    const visible = [run.logs, JSON.stringify(run.progress), JSON.stringify(run.result)].join('\n');
    const secrets = as.issuedSecrets();
    expect(secrets.length).toBeGreaterThan(2);
    for (const secret of secrets) expect(visible).not.toContain(secret);
  });

  it('access_denied: the user refuses; a clear error and nothing stored', async () => {
    const run = await login({ server_url: mcp.url, device: 'required' }, (code) => as.denyDevice(code));
    expect(run.result).toBeUndefined();
    expect(run.error?.code).toBe('login_failed');
    expect(run.error?.data?.reason).toBe('access_denied');
    expect(run.error?.message).toMatch(/refused at the authorization server/);
    expect(run.store.count()).toBe(0);
  });

  it('authorization_pending keeps polling at the same interval until approval', async () => {
    let polls = 0;
    // Approve only after the AS answered authorization_pending twice (the poller does not wait for the user here).
    const run = await login(
      { server_url: mcp.url, device: 'required' },
      (code) => {
        void until(() => as.requests('token').filter((r) => r.grantType === DEVICE_CODE_GRANT && r.status === 400).length >= 2, 'two pending polls').then(() => {
          polls = as.requests('token').length;
          return as.approveDevice(code);
        });
      },
      { realWaitMs: 20 },
    );
    expect(run.error).toBeUndefined();
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(new Set(run.waits)).toEqual(new Set([5000]));
  });
});

describe('device login: server behaviours', () => {
  it('the server\'s interval is honoured; slow_down adds 5 s to it each time', async () => {
    const { as, mcp } = await servers({ devicePollErrors: ['slow_down', 'slow_down'], deviceIntervalSec: 2 });
    const run = await login({ server_url: mcp.url, device: 'required' }, (code) => as.approveDevice(code));
    expect(run.error).toBeUndefined();
    expect(run.waits.slice(0, 3)).toEqual([2000, 7000, 12000]);
    const polls = as.requests('token').filter((r) => r.grantType === DEVICE_CODE_GRANT);
    expect(polls.map((p) => p.status)).toEqual([400, 400, 200]);
  });

  it('expired_token from the server: a clear error and nothing stored', async () => {
    const { as, mcp } = await servers({ devicePollErrors: ['authorization_pending', 'expired_token'] });
    const run = await login({ server_url: mcp.url, device: 'required' }, () => undefined);
    expect(run.error?.code).toBe('login_failed');
    expect(run.error?.data?.reason).toBe('device_expired');
    expect(run.error?.message).toMatch(/user code expired before the login was approved; start the login again/);
    expect(run.store.count()).toBe(0);
    expect(as.requests('token').map((r) => r.status)).toEqual([400, 400]);
  });

  it('the code really expired before approval (oidc-provider then says invalid_grant): the same clear error', async () => {
    const { as, mcp } = await servers({ deviceCodeTtlSec: 1 });
    // Each wait really takes 1.2 s so that the server's own clock passes the expiry.
    const run = await login({ server_url: mcp.url, device: 'required' }, () => undefined, { realWaitMs: 1200 });
    expect(run.error?.code).toBe('login_failed');
    expect(run.error?.data?.reason).toBe('device_expired');
    expect(run.error?.message).toMatch(/expired before the login was approved/);
    expect(run.store.count()).toBe(0);
    const polls = as.requests('token').filter((r) => r.grantType === DEVICE_CODE_GRANT);
    expect(polls.at(-1)?.status).toBe(400);
  });

  it('device "required" against an AS without the device grant fails naming it; "preferred" falls back to the browser login', async () => {
    const { as, mcp } = await servers({ deviceFlow: false });
    const required = await login({ server_url: mcp.url, device: 'required' }, () => undefined);
    expect(required.error?.data?.reason).toBe('device_unsupported');
    expect(required.error?.message).toMatch(/does not offer the device authorization grant/);
    expect(as.requests('register')).toEqual([]);

    const preferred = await login({ server_url: mcp.url, device: 'preferred', timeout: 1 }, () => undefined);
    // Nobody opens the browser here: the login reached the browser path and timed out waiting.
    expect(preferred.progress.map((p) => p.stage)).toContain('authorize_url');
    expect(preferred.error?.data?.reason).toBe('timeout');
  });

  it('a client registered by an earlier browser login is replaced by one allowed the device grant', async () => {
    const { as, mcp } = await servers();
    const store = TokenStore.open(':memory:', { inMemory: true });
    stores.push(store);
    const browser = await login({ server_url: mcp.url }, () => undefined, { store, browser: true });
    expect(browser.error).toBeUndefined();
    const first = store.getClientRegistration(as.issuer)?.clientId;
    const device = await login({ server_url: mcp.url, device: 'required' }, (code) => as.approveDevice(code), { store });
    expect(device.error).toBeUndefined();
    const registers = as.requests('register');
    expect(registers.map((r) => paramValues(r, 'grant_types').includes(DEVICE_CODE_GRANT))).toEqual([false, true]);
    expect(as.requests('device_authorization').map((r) => r.status)).toEqual([400, 200]);
    const second = store.getClientRegistration(as.issuer)?.clientId;
    expect(second).not.toBe(first);
    expect(store.findByResource(mcp.resource)?.clientId).toBe(second);
  });

  it('a pre-registered client without the device grant: the error names the client and the fix', async () => {
    const { as, mcp } = await servers({
      registration: false,
      preRegisteredClients: [{ clientId: 'browser-only', tokenEndpointAuthMethod: 'none' }],
    });
    const run = await login({ server_url: mcp.url, device: 'required', client_id: 'browser-only' }, () => undefined);
    expect(run.error?.message).toMatch(/client browser-only is not allowed the device authorization grant/);
    expect(as.requests('device_authorization').map((r) => r.status)).toEqual([400]);
  });
});

