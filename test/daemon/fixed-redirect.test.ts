// A fixed redirect URI (issue 16 item 2): the login listens on the given port
// and path, the authorization server sees exactly that URI, the credential
// keeps it so that a later login (and the proxy's automatic one) uses it
// again, and a busy port is a clear error naming its holder where /proc tells.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { paramValues, startAuthServer } from '../fixtures/auth-server.js';
import type { AuthServer } from '../fixtures/auth-server.js';
import { completeLogin } from '../fixtures/browser.js';
import { startMcpServer } from '../fixtures/mcp-server.js';
import type { McpTestServer } from '../fixtures/mcp-server.js';
import { runLogin } from '../../daemon/login/login-flow.js';
import { LoginRegistry } from '../../daemon/login/login-registry.js';
import { createLogger } from '../../daemon/os/logger.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { AuthdError } from '../../shared/errors.js';
import { parseFixedRedirect } from '../../shared/fixed-redirect.js';
import { findPortHolder } from '../../daemon/oauth/port-holder.js';
import type { LoginParams, LoginProgress, LoginResult } from '../../shared/protocol/login-types.js';

const logins = new LoginRegistry();
const quiet = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });

async function login(store: TokenStore, params: Omit<LoginParams, 'insecure_loopback'>): Promise<{ result?: LoginResult; error?: AuthdError; progress: LoginProgress[] }> {
  const progress: LoginProgress[] = [];
  try {
    const result = await runLogin({ insecure_loopback: true, ...params }, { store, logger: quiet, logins }, (event) => {
      progress.push(event);
      if (event.stage === 'authorize_url') void completeLogin(event.start_url ?? '').catch(() => undefined);
    });
    return { result, progress };
  } catch (err) {
    if (!(err instanceof AuthdError)) throw err;
    return { error: err, progress };
  }
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('parseFixedRedirect', () => {
  it('accepts 127.0.0.1, localhost and a bare port; refuses anything else with the reason', () => {
    expect(parseFixedRedirect('8765')).toEqual({ uri: 'http://127.0.0.1:8765/callback', host: '127.0.0.1', port: 8765, path: '/callback' });
    expect(parseFixedRedirect('http://localhost:9000/oauth/cb')).toMatchObject({ uri: 'http://localhost:9000/oauth/cb', host: 'localhost', port: 9000, path: '/oauth/cb' });
    for (const [given, why] of [
      ['https://127.0.0.1:8765/callback', /only http:\/\/ loopback/],
      ['http://example.com:8765/callback', /not 127\.0\.0\.1 or localhost/],
      ['http://127.0.0.1/callback', /explicit port/],
      ['http://127.0.0.1:8765/callback?x=1', /no user, query or fragment/],
      ['70000', /not between 1 and 65535/],
      ['nonsense', /not a URL or a port/],
    ] as const) {
      expect(() => parseFixedRedirect(given)).toThrow(why);
    }
  });
});

(process.platform === 'linux' ? describe : describe.skip)('findPortHolder on a planted /proc (Linux only)', () => {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  // Port 8765 = 0x223D, listening (0A), uid 4242, inode 777.
  const row = '   0: 0100007F:223D 00000000:0000 0A 00000000:00000000 00:00000000 00000000  4242        0 777 1 0000000000000000 100 0 0 10 0\n';
  it('says it cannot tell, and why, rather than guess', async () => {
    const root = mkdtempSync(join(tmpdir(), 'proc-'));
    try {
      mkdirSync(join(root, 'net'));
      writeFileSync(join(root, 'net', 'tcp'), header);
      expect(await findPortHolder(8765, root)).toEqual({ known: false, why: 'no listening socket for it is visible in /proc/net/tcp' });
      writeFileSync(join(root, 'net', 'tcp'), header + row);
      expect(await findPortHolder(8765, root)).toEqual({ known: false, why: 'it belongs to uid 4242, whose processes cannot be looked into' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('login with a fixed redirect URI against oidc-provider', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  const stores: TokenStore[] = [];
  beforeAll(async () => {
    // With the device grant offered: a kept fixed redirect must still win over a "preferred" device login.
    as = await startAuthServer({ deviceFlow: true });
    mcp = await startMcpServer({ authServer: as });
  });
  afterAll(async () => {
    await Promise.all([mcp.stop(), as.stop()]);
  });
  afterEach(() => {
    for (const store of stores.splice(0)) store.close();
    as.clearRequests();
    expect(logins.count).toBe(0);
  });
  function newStore(): TokenStore {
    const store = TokenStore.open(':memory:', { inMemory: true });
    stores.push(store);
    return store;
  }

  it('uses the fixed URI on registration, authorization and exchange, keeps it, and a re-login without it uses it again', async () => {
    const store = newStore();
    const port = await freePort();
    const uri = `http://localhost:${port}/oauth/callback`;
    const first = await login(store, { server_url: mcp.url, redirect_uri: uri });
    expect(first.error).toBeUndefined();
    expect(first.progress.find((p) => p.stage === 'authorize_url')?.redirect_uri).toBe(uri);
    const [register] = as.requests('register');
    expect(register && paramValues(register, 'redirect_uris')).toEqual([uri]);
    const [authorize] = as.requests('authorize');
    expect(authorize && paramValues(authorize, 'redirect_uri')).toEqual([uri]);
    expect(paramValues(as.requests('token')[0]!, 'redirect_uri')).toEqual([uri]);
    expect(store.findByResource(mcp.resource)?.loginOptions).toEqual({ redirect_uri: uri });

    // The proxy's automatic login and a plain re-login give only the server URL.
    as.clearRequests();
    const again = await login(store, { server_url: mcp.url });
    expect(again.error).toBeUndefined();
    expect(again.progress.find((p) => p.stage === 'authorize_url')?.redirect_uri).toBe(uri);
    expect(paramValues(as.requests('authorize')[0]!, 'redirect_uri')).toEqual([uri]);
    expect(store.findByResource(mcp.resource)?.loginOptions).toEqual({ redirect_uri: uri });
  });

  it('a client without a display ("preferred" device login) still uses a kept fixed redirect: the user chose that way before', async () => {
    const store = newStore();
    const port = await freePort();
    const uri = `http://127.0.0.1:${port}/callback`;
    expect((await login(store, { server_url: mcp.url, redirect_uri: uri })).error).toBeUndefined();
    as.clearRequests();
    const again = await login(store, { server_url: mcp.url, device: 'preferred' });
    expect(again.error).toBeUndefined();
    expect(again.progress.map((p) => p.stage)).toEqual(['discovered', 'registered', 'authorize_url', 'exchanging']);
    expect(as.requests('device_authorization')).toEqual([]);
    expect(paramValues(as.requests('authorize')[0]!, 'redirect_uri')).toEqual([uri]);
    expect(store.findByResource(mcp.resource)?.loginOptions).toEqual({ redirect_uri: uri });

    // A device login the user asked for outright does not forget the redirect they set up.
    as.clearRequests();
    const device = await runLogin({ insecure_loopback: true, server_url: mcp.url, device: 'required' }, { store, logger: quiet, logins, sleep: () => new Promise((resolve) => setTimeout(resolve, 10)) }, (event) => {
      if (event.stage === 'device_code') void as.approveDevice(event.user_code ?? '');
    });
    expect(device.resource).toBe(mcp.resource);
    expect(store.findByResource(mcp.resource)).toMatchObject({ grantKind: 'device_code', loginOptions: { redirect_uri: uri } });
  });

  it('a login without a fixed redirect keeps using an ephemeral port and stores no login options', async () => {
    const store = newStore();
    const run = await login(store, { server_url: mcp.url });
    expect(run.error).toBeUndefined();
    expect(run.progress.find((p) => p.stage === 'authorize_url')?.redirect_uri).toBeUndefined();
    expect(paramValues(as.requests('authorize')[0]!, 'redirect_uri')[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(store.findByResource(mcp.resource)?.loginOptions).toBeNull();
  });

  it('a busy port is a clear error naming the process holding it (Linux /proc), and nothing is stored', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const store = newStore();
      const run = await login(store, { server_url: mcp.url, redirect_uri: String(port) });
      expect(run.error?.code).toBe('login_failed');
      expect(run.error?.data?.reason).toBe('port_in_use');
      expect(run.error?.message).toContain(`port ${port} of the redirect URI http://127.0.0.1:${port}/callback is already in use`);
      if (process.platform === 'linux') expect(run.error?.message).toContain(`by pid ${process.pid} (`);
      else expect(run.error?.message).toMatch(/which process holds it is not known/);
      expect(store.count()).toBe(0);
      expect(as.requests('authorize')).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
