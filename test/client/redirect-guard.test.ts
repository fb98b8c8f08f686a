/**
 * Issue 13 item 8: a token is sent only to the URL of the credential it
 * belongs to. A server answering 307 from /s/one/mcp to /s/victim/mcp (same
 * origin, so fetch itself would keep the Authorization header) must not get
 * /s/one's token delivered to /s/victim: the fetch wrapper (and with it the
 * proxy) fails with a clear error instead. A redirect to the same resource is
 * still followed, with the token.
 *
 * Real parts: the MCP SDK client and its Streamable HTTP transport, a real MCP
 * server fixture as the victim, an in-process daemon serving the token of a
 * credential planted in its store (a login is not what is under test).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpAuthdClient } from '../../client/index.js';
import { createOAuthClientProvider } from '../../client/mcp-auth-provider.js';
import { createAuthorizedFetch } from '../../client/mcp-fetch.js';
import { createRedirectGuardedFetch } from '../../client/redirect-guard.js';
import { runProxy } from '../../client/cli/proxy.js';
import { Secret } from '../../daemon/store/secret.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';

const HOUR = 3_600_000;
const ONE_TOKEN = 'token-of-s-one-not-for-the-victim';

describe('tokens and redirects (issue 13 item 8)', () => {
  let victim: McpTestServer;
  let t: TestDaemon;
  let client: McpAuthdClient;
  let oneUrl: string;

  const plant = (url: string, token: string): void => {
    t.daemon.store.saveCredential({
      resource: url, serverUrl: url, issuer: 'https://as.example.com', clientId: 'c', scopes: ['mcp:tools'],
      accessToken: new Secret(token), tokenType: 'Bearer', expiresAt: Date.now() + HOUR, refreshToken: null, refreshAt: null,
    });
  };

  beforeAll(async () => {
    // The victim is a real MCP server at /s/victim/mcp; /s/one/mcp on the same origin redirects to it.
    victim = await startMcpServer({ issuer: 'https://as.example.com', resourcePath: '/s/victim/mcp', redirects: { '/s/one/mcp': { location: '/s/victim/mcp' } } });
    oneUrl = `${victim.origin}/s/one/mcp`;
    t = await startTestDaemon();
    plant(oneUrl, ONE_TOKEN);
    client = new McpAuthdClient({ socket: t.home.paths.socket });
  });
  afterAll(async () => {
    client.close();
    await t.stop();
    await victim.stop();
  });

  it('fetch wrapper: the victim never sees the token of /s/one, and the error says why', async () => {
    victim.clearRequests();
    const transport = new StreamableHTTPClientTransport(new URL(oneUrl), { fetch: createAuthorizedFetch(oneUrl, { client }) });
    const mcp = new Client({ name: 'redirect-test', version: '1.0.0' });
    const failure = await mcp.connect(transport).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    await mcp.close().catch(() => undefined);
    const atVictim = victim.requests().filter((r) => r.path === '/s/victim/mcp');
    expect(atVictim.filter((r) => r.hadAuthorization)).toEqual([]);
    expect(failure?.message).toMatch(/redirected .*\/s\/victim\/mcp.*another resource.*token/);
    expect(failure?.message).not.toContain(ONE_TOKEN);
  });

  it('proxy: the victim never sees the token, and the client gets a JSON-RPC error', async () => {
    victim.clearRequests();
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let out = '';
    stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const lines: string[] = [];
    const done = runProxy({ serverUrl: oneUrl, client, openBrowser: false, stdin, stdout, log: (l) => lines.push(l) });
    stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })}\n`);
    while (!out.includes('"id":1')) await new Promise((resolve) => stdout.once('data', resolve));
    stdin.end();
    await done;
    expect(victim.requests().filter((r) => r.path === '/s/victim/mcp' && r.hadAuthorization)).toEqual([]);
    const reply = JSON.parse(out.trim().split('\n')[0] as string) as { error?: { message: string } };
    expect(reply.error?.message).toMatch(/redirected .*another resource/);
  });

  it('SDK authProvider with the guarded fetch: the victim never sees the token', async () => {
    victim.clearRequests();
    const authProvider = createOAuthClientProvider(oneUrl, { client });
    const transport = new StreamableHTTPClientTransport(new URL(oneUrl), { authProvider, fetch: createRedirectGuardedFetch(oneUrl) });
    const mcp = new Client({ name: 'redirect-test', version: '1.0.0' });
    const failure = await mcp.connect(transport).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    await mcp.close().catch(() => undefined);
    expect(victim.requests().filter((r) => r.path === '/s/victim/mcp' && r.hadAuthorization)).toEqual([]);
    expect(failure?.message).toMatch(/redirected .*another resource/);
  });

  it('follows a redirect to the same resource, with the token', async () => {
    // A server that sends the first request back to the very same URL (say, to set a cookie).
    const seen: { path: string; auth: string | undefined }[] = [];
    const same = http.createServer((req, res) => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization });
      if (seen.length === 1) res.writeHead(307, { location: `http://127.0.0.1:${(same.address() as AddressInfo).port}/s/same/mcp` }).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((resolve) => same.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(same.address() as AddressInfo).port}/s/same/mcp`;
      plant(url, 'token-of-s-same');
      const response = await createAuthorizedFetch(url, { client })(url, { method: 'POST', body: '{}' });
      expect(response.status).toBe(200);
      expect(seen).toEqual([
        { path: '/s/same/mcp', auth: 'Bearer token-of-s-same' },
        { path: '/s/same/mcp', auth: 'Bearer token-of-s-same' },
      ]);
    } finally {
      await new Promise<void>((resolve) => same.close(() => resolve()));
    }
  });
});
