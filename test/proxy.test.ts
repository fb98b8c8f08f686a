/**
 * `mcpauthd proxy` as stdio-only MCP clients run it: an SDK client spawns
 * `node dist/client/cli/main.js proxy <url>` (StdioClientTransport) and talks,
 * through it, to a real SDK server that checks the token's audience, with a
 * real authorization server and the daemon as a child process. Logins go
 * through the scripted browser, started by the proxy via $BROWSER.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { McpAuthdClient } from '../client/index.js';
import { PROXY_ERROR_CODE } from '../client/cli/proxy.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { CLI, runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { recordOutput } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

interface Proxied {
  client: Client;
  stderr(): string;
  errors: Error[];
  logs: string[];
  close(): Promise<void>;
}

describe('mcpauthd proxy', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  let authd: McpAuthdClient;
  let first: Proxied;
  const outputs: string[] = [];

  const proxyEnv = () => ({ ...(home.env as Record<string, string>), ...browserEnv() });

  async function startProxy(url: string, name: string): Promise<Proxied> {
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'proxy', url, '--insecure-loopback'], env: proxyEnv(), stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const client = new Client({ name, version: '1.0.0' });
    const errors: Error[] = [];
    const logs: string[] = [];
    client.onerror = (err) => errors.push(err);
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
    await client.connect(transport);
    return {
      client,
      stderr: () => stderr,
      errors,
      logs,
      close: async () => {
        await client.close();
        outputs.push(stderr);
      },
    };
  }
  const echo = async (c: Client, text: string) => ((await c.callTool({ name: 'echo', arguments: { text } })).content as { text: string }[])[0]?.text;
  const refreshes = () => as.requests('token').filter((r) => r.grantType === 'refresh_token').length;
  const refused = () => mcp.requests().filter((r) => r.outcome === 'invalid_token').length;

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as, stateful: true });
    home = makeTempHome();
    daemon = await startDaemonProcess(home.env);
    authd = new McpAuthdClient({ socket: home.paths.socket });
  });
  afterAll(async () => {
    await first?.close();
    authd.close();
    await daemon.stop();
    home.remove();
    await mcp.stop();
    await as.stop();
  });

  it('should log in through the daemon on the first message (browser opened by the proxy), then serve tools', async () => {
    first = await startProxy(mcp.url, 'proxy-test-a');
    expect(first.stderr()).toContain('open this URL to approve');
    expect((await first.client.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'test-tool', 'admin-tool']));
    expect(await echo(first.client, 'hello')).toBe('hello');
    expect((await authd.status()).credentials.map((c) => c.resource)).toEqual([mcp.url]);
    expect(as.requests('authorize')).toHaveLength(1);
    for (const r of mcp.requests().filter((x) => x.outcome === 'mcp')) expect(r.tokenAud).toEqual([mcp.url]);
    expect(first.errors).toEqual([]);
  });

  it('should forward notifications from the server: inside a response stream and on the session stream', async () => {
    const result = await first.client.callTool({ name: 'test-tool' });
    expect((result.content as { text: string }[])[0]?.text).toMatch(/^test-tool ok \(sub=test-user\)/);
    expect(first.logs).toContain('test-tool called');

    const changed = new Promise<void>((resolve) => first.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    // The proxy opens the session's GET stream right after `initialized`; push until it is there.
    for (let i = 0; i < 100 && !first.logs.includes('pushed'); i++) {
      await mcp.sendLog('pushed');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(first.logs).toContain('pushed');
    expect(mcp.notifyToolListChanged()).toBe(1);
    await changed;
  });

  it('should recover from a 401 in mid-session through a daemon refresh, without a new login', async () => {
    const [before, refusedBefore] = [refreshes(), refused()];
    expect(mcp.revokeTokens()).toBeGreaterThan(0);
    expect(await echo(first.client, 'after revocation')).toBe('after revocation');
    expect(refreshes()).toBe(before + 1);
    expect(refused()).toBe(refusedBefore + 1);
    expect(as.requests('authorize')).toHaveLength(1);
  });

  it('should share one credential and one refresh between two proxies for the same server', async () => {
    const second = await startProxy(mcp.url, 'proxy-test-b');
    try {
      expect(await echo(second.client, 'b')).toBe('b');
      // B opens its session stream (GET) on its own after connecting; let that finish first,
      // so that the revocation below meets exactly one request: A's.
      await until(() => mcp.requests().filter((r) => r.method === 'GET' && r.outcome === 'mcp').length === 2);
      const [before, refusedBefore] = [refreshes(), refused()];
      mcp.revokeTokens();
      expect(await echo(first.client, 'a after revocation')).toBe('a after revocation');
      // B asks the daemon before each request and gets A's refreshed token: no 401, no second refresh.
      expect(await echo(second.client, 'b after revocation')).toBe('b after revocation');
      expect(refreshes()).toBe(before + 1);
      expect(refused()).toBe(refusedBefore + 1);
      expect(as.requests('authorize')).toHaveLength(1);
      // A rotation done with `mcpauthd refresh` is picked up the same way.
      const jti = () => mcp.requests().filter((r) => r.outcome === 'mcp').at(-1)?.tokenJti;
      const used = jti();
      expect((await runCliAsync(['refresh', mcp.url], home.env)).status).toBe(0);
      expect(await echo(second.client, 'after mcpauthd refresh')).toBe('after mcpauthd refresh');
      expect(jti()).not.toBe(used);
      expect(refused()).toBe(refusedBefore + 1);
      expect(second.errors).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('should fall back to the HTTP+SSE transport for an old server', async () => {
    const legacy = await startMcpServer({ authServer: as, legacySse: true });
    const old = await startProxy(legacy.url, 'proxy-test-sse');
    try {
      expect(await echo(old.client, 'over sse')).toBe('over sse');
      expect(old.stderr()).toContain('does not speak Streamable HTTP (it answered HTTP 405); using the HTTP+SSE transport');
      expect(old.stderr()).not.toContain('remote:');
      const used = legacy.requests().filter((r) => r.outcome === 'mcp');
      expect(used.map((r) => r.method)).toEqual(expect.arrayContaining(['GET', 'POST']));
      for (const r of used) expect(r.tokenAud).toEqual([legacy.url]);
    } finally {
      await old.close();
      await legacy.stop();
    }
  });

  it('should keep stdout to protocol lines, answer an undeliverable request with an error, and exit 0 when stdin closes', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'proxy', `http://127.0.0.1:${port}/mcp`, '--insecure-loopback'], { env: proxyEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const answered = new Promise<void>((resolve) => child.stdout.on('data', () => stdout.includes('\n') && resolve()));
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`);
    await answered;
    child.stdin.end();
    expect(await exited).toBe(0);
    outputs.push(stdout, stderr);
    const lines = stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: PROXY_ERROR_CODE, message: expect.stringMatching(/^mcpauthd proxy: /) } });
    expect(stderr).toContain('could not deliver "initialize"');
  });

  it('should exit 0 when stdin closes in mid-session, after ending the session', async () => {
    const child = spawn(process.execPath, [CLI, 'proxy', mcp.url], { env: proxyEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const initialized = new Promise<void>((resolve) =>
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('"id":1')) resolve();
      }),
    );
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`);
    await initialized;
    const deletesBefore = mcp.requests().filter((r) => r.method === 'DELETE').length;
    child.stdin.end();
    expect(await exited).toBe(0);
    outputs.push(stdout, stderr);
    expect(JSON.parse(stdout.trim())).toMatchObject({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-06-18' } });
    expect(mcp.requests().filter((r) => r.method === 'DELETE').length).toBe(deletesBefore + 1);
  });

  it('should exit 0 when stdin closes while a login waits for approval', async () => {
    const fresh = await startMcpServer({ authServer: as });
    const child = spawn(process.execPath, [CLI, 'proxy', fresh.url, '--insecure-loopback'], { env: { ...proxyEnv(), ...browserEnv('never') }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waiting = new Promise<void>((resolve) =>
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (stderr.includes('open this URL to approve')) resolve();
      }),
    );
    try {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`);
      await waiting;
      child.stdin.end();
      expect(await exited).toBe(0);
      outputs.push(stderr);
    } finally {
      await fresh.stop();
    }
  });

  it('should never write a secret the authorization server issued to any proxy output or the daemon log', async () => {
    await first.close();
    outputs.push(daemon.stdout(), daemon.stderr());
    const all = outputs.join('\n');
    recordOutput('mcpauthd proxy stdout and stderr (proxy.test.ts)', all);
    expect(all.length).toBeGreaterThan(100);
    expect(as.issuedSecrets().length).toBeGreaterThan(5);
    for (const secret of as.issuedSecrets()) expect(all).not.toContain(secret);
    first = undefined as unknown as Proxied;
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}


function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
