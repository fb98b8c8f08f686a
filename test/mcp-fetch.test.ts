/**
 * createAuthorizedFetch with a real MCP SDK client (Streamable HTTP and the
 * old SSE transport) against a real SDK server that checks the token's
 * audience, a real authorization server (oidc-provider) and an in-process
 * daemon on a manual clock (so "the token expired" takes no wall time).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createAuthorizedFetch, type FetchLike } from '../client/mcp-fetch.js';
import { startAuthServer } from './fixtures/auth-server.js';
import { startMcpServer } from './fixtures/mcp-server.js';
import { echo, presentedJtis, startMcpAuthStack, tokenRequests, type McpAuthStack } from './helpers/mcp-auth-stack.js';
import { scriptedApprover } from './helpers/scripted-approver.js';

const HOUR_MS = 3_600_000;

interface Seen {
  url: string;
  authorization: string | null;
}

describe('createAuthorizedFetch', () => {
  let stack: McpAuthStack;
  let seen: Seen[];
  let client: Client;

  // The fetch under the wrapper: records what the SDK side sent, and where.
  const recordingFetch: FetchLike = async (url, init) => {
    seen.push({ url: String(url), authorization: new Headers(init?.headers).get('authorization') });
    return fetch(url, init);
  };
  const wrapped = (serverUrl: string, extra: Partial<Parameters<typeof createAuthorizedFetch>[1]> = {}) =>
    createAuthorizedFetch(serverUrl, { client: stack.authd, login: { insecure_loopback: true }, onAuthorizeUrl: stack.approver.onAuthorizeUrl, fetch: recordingFetch, ...extra });

  beforeAll(async () => {
    stack = await startMcpAuthStack();
    seen = [];
    client = new Client({ name: 'fetch-test', version: '1.0.0' });
  });
  afterAll(async () => {
    await client.close();
    await stack.stop();
  });

  it('should log in through the daemon on the first call, then reuse the token', async () => {
    await client.connect(new StreamableHTTPClientTransport(new URL(stack.mcp.url), { fetch: wrapped(stack.mcp.url) }));
    expect(await echo(client, 'one')).toBe('one');
    expect(await echo(client, 'two')).toBe('two');
    expect(stack.approver.errors).toEqual([]);
    expect(stack.approver.urls).toHaveLength(1);
    expect(stack.approver.scopes()[0]).toContain('mcp:tools');
    expect(tokenRequests(stack.as, 'authorization_code')).toHaveLength(1);
    expect(tokenRequests(stack.as, 'refresh_token')).toHaveLength(0);
    // One token for every call, and the server checked that it was issued for it.
    expect(presentedJtis(stack.mcp)).toHaveLength(1);
    for (const r of stack.mcp.requests().filter((x) => x.outcome === 'mcp')) expect(r.tokenAud).toEqual([stack.mcp.url]);
    expect((await stack.authd.status()).credentials.map((c) => c.resource)).toEqual([stack.mcp.url]);
  });

  it('should have the daemon refresh an expired token; the SDK never sees a refresh token or the AS', async () => {
    const before = presentedJtis(stack.mcp);
    stack.clock.jump(2 * HOUR_MS); // the daemon's token is now expired (the AS issues 1-hour tokens)
    expect(await echo(client, 'after expiry')).toBe('after expiry');
    const refreshes = tokenRequests(stack.as, 'refresh_token');
    expect(refreshes).toHaveLength(1);
    const [credential] = (await stack.authd.status()).credentials;
    // Every token request came from the daemon's registered client, and only the daemon registered.
    expect(new Set(stack.as.requests('token').map((r) => r.clientId))).toEqual(new Set([credential!.client_id]));
    expect(stack.as.requests('register')).toHaveLength(1);
    expect(presentedJtis(stack.mcp).filter((j) => !before.includes(j))).toHaveLength(1);
    // The SDK's HTTP went to the MCP server only, and carried access tokens only.
    expect(seen.every((s) => new URL(s.url).origin === stack.mcp.origin)).toBe(true);
    const refreshTokens = stack.as.issuedSecrets().filter((s) => !s.startsWith('eyJ'));
    for (const s of seen) for (const secret of refreshTokens) expect(s.authorization ?? '').not.toContain(secret);
  });

  it('should renew a token the server refuses (401) through the daemon and retry once', async () => {
    const refreshesBefore = tokenRequests(stack.as, 'refresh_token').length;
    expect(stack.mcp.revokeTokens()).toBeGreaterThan(0);
    expect(await echo(client, 'after revocation')).toBe('after revocation');
    expect(tokenRequests(stack.as, 'refresh_token')).toHaveLength(refreshesBefore + 1);
    expect(stack.approver.urls).toHaveLength(1); // a refresh was enough: no new login
    expect(stack.mcp.requests().filter((r) => r.outcome === 'invalid_token')).toHaveLength(1);
  });

  it('should step up on 403 insufficient_scope with the granted and the challenged scopes, then retry', async () => {
    const result = await client.callTool({ name: 'admin-tool' });
    expect((result.content as { text: string }[])[0]?.text).toBe('admin-tool ok');
    expect(stack.approver.urls).toHaveLength(2);
    expect(stack.approver.scopes()[1]).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin']));
    expect((await stack.authd.status()).credentials[0]?.scopes).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin']));
  });

  it('should give up after 3 step-ups on a server whose tool always needs a scope the AS denies', async () => {
    const stingy = await startAuthServer({ deniedScopes: ['mcp:admin'] });
    const server = await startMcpServer({ authServer: stingy });
    const own = scriptedApprover();
    const c = new Client({ name: 'fetch-test-stingy', version: '1.0.0' });
    try {
      await c.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch: wrapped(server.url, { onAuthorizeUrl: own.onAuthorizeUrl }) }));
      await expect(c.callTool({ name: 'admin-tool' })).rejects.toMatchObject({ code: 403 });
      // The first login, then exactly three step-ups, each asking for mcp:admin again.
      expect(own.urls).toHaveLength(4);
      for (const scopes of own.scopes().slice(1)) expect(scopes).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin']));
      expect(server.requests().filter((r) => r.outcome === 'insufficient_scope')).toHaveLength(4);
      expect(await echo(c, 'still fine')).toBe('still fine');
    } finally {
      await c.close();
      await server.stop();
      await stingy.stop();
    }
  });

  it('should fail with needs_login, and start no login, when no onAuthorizeUrl was given', async () => {
    const other = await startMcpServer({ authServer: stack.as });
    const c = new Client({ name: 'fetch-test-nologin', version: '1.0.0' });
    const logins = stack.as.requests('authorize').length;
    try {
      await expect(
        c.connect(new StreamableHTTPClientTransport(new URL(other.url), { fetch: createAuthorizedFetch(other.url, { client: stack.authd }) })),
      ).rejects.toMatchObject({ code: 'needs_login', message: expect.stringContaining(`mcpauthd login ${other.url}`) });
      expect(stack.as.requests('authorize')).toHaveLength(logins);
    } finally {
      await c.close();
      await other.stop();
    }
  });

  it('should start one login for concurrent requests that all need it', async () => {
    const other = await startMcpServer({ authServer: stack.as });
    const own = scriptedApprover();
    const f = wrapped(other.url, { onAuthorizeUrl: own.onAuthorizeUrl });
    const initialize = (id: number) =>
      f(other.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
      });
    try {
      const responses = await Promise.all([1, 2, 3, 4, 5].map(initialize));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      await Promise.all(responses.map((r) => r.text()));
      expect(own.urls).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('should never send the token to another origin', async () => {
    const calls: Seen[] = [];
    const stub: FetchLike = async (url, init) => {
      calls.push({ url: String(url), authorization: new Headers(init?.headers).get('authorization') });
      return new Response('ok');
    };
    const f = createAuthorizedFetch(stack.mcp.url, { client: stack.authd, fetch: stub });
    await f(`${stack.mcp.origin}/other/path`);
    await f('http://127.0.0.2:9/elsewhere', { headers: { authorization: 'Bearer caller-own' } });
    expect(calls[0]?.authorization).toMatch(/^Bearer eyJ/);
    expect(calls[1]?.authorization).toBe('Bearer caller-own');
  });

  it('should work with the SSE transport against an old HTTP+SSE server, logging in on the GET', async () => {
    const legacy = await startMcpServer({ authServer: stack.as, legacySse: true });
    const own = scriptedApprover();
    const c = new Client({ name: 'fetch-test-sse', version: '1.0.0' });
    try {
      await c.connect(new SSEClientTransport(new URL(legacy.url), { fetch: wrapped(legacy.url, { onAuthorizeUrl: own.onAuthorizeUrl }) }));
      expect(await echo(c, 'over sse')).toBe('over sse');
      expect(own.urls).toHaveLength(1);
      const used = legacy.requests().filter((r) => r.outcome === 'mcp');
      expect(used.map((r) => r.method)).toEqual(expect.arrayContaining(['GET', 'POST']));
      for (const r of used) expect(r.tokenAud).toEqual([legacy.url]);
    } finally {
      await c.close();
      await legacy.stop();
    }
  });

  it('should leave no secret the authorization server issued in the daemon log', () => {
    expect(stack.as.issuedSecrets().length).toBeGreaterThan(3);
    for (const secret of stack.as.issuedSecrets()) expect(stack.daemon.logs()).not.toContain(secret);
  });
});
