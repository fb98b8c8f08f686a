// Issue 16 item 6: an MCP server whose protected resource metadata moves to
// another authorization server. Two real oidc-provider instances; the daemon
// must register with the new one (a client id is never carried across
// issuers, D4) and log in again there, and the server must take the token.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { startAuthServer, type AuthServer } from '../fixtures/auth-server.js';
import { completeLogin } from '../fixtures/browser.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry } from '../../daemon/login/login-registry.js';
import { createLogger } from '../../daemon/os/logger.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import type { LoginParams } from '../../shared/protocol/login-types.js';

const logins = new LoginRegistry();
const logger = createLogger({ level: 'error' });
let oldAs: AuthServer;
let newAs: AuthServer;
let mcp: McpTestServer;
let store: TokenStore;

beforeAll(async () => {
  [oldAs, newAs] = await Promise.all([startAuthServer(), startAuthServer()]);
  mcp = await startMcpServer({ authServer: oldAs });
  store = TokenStore.open(':memory:', { inMemory: true });
});
afterAll(async () => {
  store.close();
  await Promise.all([oldAs.stop(), newAs.stop(), mcp.stop()]);
});

async function login(params: Partial<LoginParams> = {}) {
  const browsers: Promise<unknown>[] = [];
  const result = await runLogin({ server_url: mcp.url, insecure_loopback: true, timeout: 20, ...params }, { store, logger, logins }, (progress) => {
    if (progress.stage === 'authorize_url') browsers.push(completeLogin(progress.start_url ?? ''));
  });
  await Promise.all(browsers);
  return result;
}

async function serverAccepts(token: string): Promise<number> {
  const answer = await fetch(mcp.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } }),
  });
  await answer.body?.cancel();
  return answer.status;
}

describe('an authorization server that moves (D4)', () => {
  it('registers with the new AS, never presents the old client id there, and logs in again there', async () => {
    const first = await login();
    expect(first.issuer).toBe(oldAs.issuer);
    const oldClient = store.findByResource(mcp.resource)!.clientId;

    mcp.moveTo(newAs);
    // The old token is refused now: a client gets 401 and logs in again, as here.
    expect(await serverAccepts(store.findByResource(mcp.resource)!.accessToken.reveal())).toBe(401);
    const second = await login();

    expect(second.issuer).toBe(newAs.issuer);
    expect(newAs.requests('register')).toHaveLength(1);
    const credential = store.findByResource(mcp.resource)!;
    expect(credential.issuer).toBe(newAs.issuer);
    expect(credential.clientId).not.toBe(oldClient);
    expect(store.getClientRegistration(newAs.issuer)?.clientId).toBe(credential.clientId);
    // Nothing the new AS saw carried the old issuer's client id.
    expect(newAs.requests().filter((r) => r.clientId === oldClient || r.params.some(([, v]) => v === oldClient))).toEqual([]);
    // The old registration stays with its issuer; it is not moved or reused.
    expect(store.getClientRegistration(oldAs.issuer)?.clientId).toBe(oldClient);
    expect(decodeJwt(credential.accessToken.reveal())).toMatchObject({ iss: newAs.issuer, aud: mcp.resource });
    expect(await serverAccepts(credential.accessToken.reveal())).toBe(200);
  });

  it('moving back and forth reuses each issuer\'s own registration, one client per issuer', async () => {
    mcp.moveTo(oldAs);
    await login();
    mcp.moveTo(newAs);
    newAs.clearRequests();
    const result = await login();
    expect(result.issuer).toBe(newAs.issuer);
    // The registration the first test made at the new AS is reused: one client per issuer.
    expect(newAs.requests('register')).toHaveLength(0);
    expect(newAs.requests('token').at(-1)?.clientId).toBe(store.getClientRegistration(newAs.issuer)?.clientId);
  });
});
