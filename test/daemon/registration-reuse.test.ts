// Issue 12 item 4: one issuer's dynamic registration is shared by every
// credential of that issuer. A login that reads it (RFC 7592) must keep a
// rotated registration_access_token, and a read that fails must never delete
// a registration other credentials refresh with: the login registers a new
// client for itself instead. Real oidc-provider and MCP SDK servers throughout.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { startAuthServer } from '../fixtures/auth-server.js';
import type { AuthServer, AuthServerOptions } from '../fixtures/auth-server.js';
import { completeLogin } from '../fixtures/browser.js';
import { startMcpServer } from '../fixtures/mcp-server.js';
import type { McpTestServer } from '../fixtures/mcp-server.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry } from '../../daemon/login/login-registry.js';
import { createRefreshGrant } from '../../daemon/refresh/refresh-grant.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import type { LoginResult } from '../../shared/protocol/login-types.js';
import { quietLogger } from '../helpers/test-logger.js';

const started: { stop(): Promise<void> }[] = [];
const stores: TokenStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});
afterAll(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function setup(options?: AuthServerOptions): Promise<{ as: AuthServer; first: McpTestServer; second: McpTestServer; store: TokenStore }> {
  const as = await startAuthServer(options);
  started.push(as);
  const first = await startMcpServer({ authServer: as });
  const second = await startMcpServer({ authServer: as });
  started.push(first, second);
  const store = TokenStore.open(':memory:', { inMemory: true });
  stores.push(store);
  return { as, first, second, store };
}

const quiet = quietLogger();

async function login(serverUrl: string, store: TokenStore): Promise<LoginResult> {
  const browsers: Promise<unknown>[] = [];
  const result = await runLogin({ server_url: serverUrl, insecure_loopback: true }, { store, logger: quiet, logins: new LoginRegistry() }, (event) => {
    if (event.stage === 'authorize_url') browsers.push(completeLogin(event.authorize_url ?? ''));
  });
  await Promise.all(browsers);
  return result;
}

/** What a user sees next: the credential's scheduled refresh at the real AS. */
async function refreshes(store: TokenStore, resource: string): Promise<boolean> {
  const record = store.findByResource(resource);
  if (record === undefined || record.refreshToken === null) throw new Error(`no refreshable credential for ${resource}`);
  const grant = createRefreshGrant({ store, now: Date.now });
  const registration = store.getClientRegistration(record.issuer, record.clientId);
  return grant({ record, refreshToken: record.refreshToken, registration }).then(
    () => true,
    () => false,
  );
}

describe('a login reusing the issuer registration (item 4)', () => {
  it('C3: stores the registration_access_token an RFC 7592 read rotated, so later reads keep working', async () => {
    const { as, first, second, store } = await setup({ rotateRegistrationAccessTokenOnRead: true });
    await login(first.url, store);
    const registered = store.getClientRegistration(as.issuer);
    await login(second.url, store); // reads the registration: the AS rotates its token
    const afterRead = store.getClientRegistration(as.issuer, registered?.clientId);
    expect(afterRead?.registrationAccessToken).not.toBeNull();
    expect(afterRead?.registrationAccessToken?.equals(registered?.registrationAccessToken ?? new Secret('x'))).toBe(false);
    await login(first.url, store); // reads again, with the rotated token
    expect(as.requests('register')).toHaveLength(1);
    const clients = new Set([first.resource, second.resource].map((r) => store.findByResource(r)?.clientId));
    expect([...clients]).toEqual([registered?.clientId]);
    expect(await refreshes(store, first.resource)).toBe(true);
    expect(await refreshes(store, second.resource)).toBe(true);
  });

  it('C3: a read answered 401 registers a new client for this login and keeps the one other credentials use', async () => {
    const { as, first, second, store } = await setup();
    await login(first.url, store);
    const shared = store.getClientRegistration(as.issuer);
    if (shared === undefined) throw new Error('the first login stored no registration');
    // A token the AS no longer accepts (rotated on a read whose answer was lost, or expired): the read answers 401.
    store.saveClientRegistration({ ...shared, registrationAccessToken: new Secret('rat-the-as-no-longer-knows') });

    await login(second.url, store);
    expect(as.requests('register')).toHaveLength(2);
    expect(store.getClientRegistration(as.issuer, shared.clientId)).toBeDefined();
    expect(store.findByResource(first.resource)?.clientId).toBe(shared.clientId);
    expect(store.findByResource(second.resource)?.clientId).not.toBe(shared.clientId);
    // Neither credential was broken by the other's login.
    expect(await refreshes(store, first.resource)).toBe(true);
    expect(await refreshes(store, second.resource)).toBe(true);
  });
});
