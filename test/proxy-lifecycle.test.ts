/**
 * Issue 14.4 and 14.5: what a user of a GUI MCP client sees from the proxy at
 * the edges of a session. A clean exit prints no false alarm; a proxy that
 * needs a login no one can approve answers the client's request, inside the
 * client's own request timeout, with an error naming the command to run.
 * Real parts: SDK client over StdioClientTransport, the proxy from dist/, the
 * daemon as a child process, oidc-provider and an SDK MCP server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { DEFAULT_REQUEST_TIMEOUT_MSEC } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { PROXY_ERROR_CODE, PROXY_LOGIN_WAIT_MS } from '../client/cli/proxy.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { CLI, runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { recordOutput } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

interface Started {
  client: Client;
  transport: StdioClientTransport;
  stderr(): string;
}

describe('mcpauthd proxy at the edges of a session', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  const outputs: string[] = [];

  async function startProxy(url: string, env: Record<string, string>, extraArgs: string[] = []): Promise<Started> {
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'proxy', url, '--insecure-loopback', ...extraArgs], env, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const client = new Client({ name: 'lifecycle', version: '1.0.0' });
    await client.connect(transport);
    return { client, transport, stderr: () => stderr };
  }

  beforeAll(async () => {
    as = await startAuthServer();
    // A server that keeps sessions and does not let clients end them (405 to DELETE, as the spec allows):
    // the session's event stream is still open when the proxy closes its transport.
    mcp = await startMcpServer({ authServer: as, stateful: true, refuseSessionDelete: true });
    home = makeTempHome();
    daemon = await startDaemonProcess(home.env);
    const login = await runCliAsync(['login', mcp.url, '--insecure-loopback'], { ...home.env, ...browserEnv() });
    expect(login.status).toBe(0);
  });

  afterAll(async () => {
    outputs.push(daemon.stdout(), daemon.stderr());
    recordOutput('proxy-lifecycle.test.ts outputs', outputs.join('\n'));
    await daemon.stop();
    home.remove();
    await mcp.stop();
    await as.stop();
  });

  it('should exit without a "remote:" false alarm when the client closes a session whose event stream is open', async () => {
    const gets = () => mcp.requests().filter((r) => r.method === 'GET' && r.outcome === 'mcp').length;
    const before = gets();
    const proxied = await startProxy(mcp.url, home.env as Record<string, string>);
    const result = await proxied.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect((result.content as { text: string }[])[0]?.text).toBe('hi');
    // The proxy opens the session's GET stream after `initialized`: the stream shutdown has to close.
    await until(() => gets() > before);
    const exited = new Promise<number | null>((resolve) => proxied.transport.onclose = () => resolve(0));
    await proxied.client.close();
    await exited;
    await until(() => proxied.transport.pid === null || !isAlive(proxied.transport.pid));
    outputs.push(proxied.stderr());
    expect(proxied.stderr()).not.toMatch(/remote:|AbortError|SSE stream disconnected/);
  });

  describe('a login nobody can approve (GUI client, no browser)', () => {
    let fresh: McpTestServer;
    beforeAll(async () => {
      fresh = await startMcpServer({ authServer: as });
    });
    afterAll(async () => {
      await fresh.stop();
    });

    /** Connects an SDK client through a proxy for `fresh`; resolves with the error the client got. */
    async function refusedConnect(env: Record<string, string>, extraArgs: string[]): Promise<{ error: McpError; stderr: string; ms: number }> {
      const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'proxy', fresh.url, '--insecure-loopback', ...extraArgs], env, stderr: 'pipe' });
      let stderr = '';
      transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const client = new Client({ name: 'gui-client', version: '1.0.0' });
      const started = Date.now();
      try {
        // The SDK's own default request timeout (60 s) would end this before an old 300 s login wait;
        // 20 s keeps a failure short. The proxy must answer first, and with the command.
        await client.connect(transport, { timeout: 20_000 });
        throw new Error('connect should have failed: nobody approved the login');
      } catch (err) {
        await client.close();
        outputs.push(stderr);
        if (!(err instanceof McpError)) throw err;
        return { error: err, stderr, ms: Date.now() - started };
      }
    }

    it('should answer at once, naming "mcpauthd login <url>", when no browser can be started', async () => {
      const { error, stderr, ms } = await refusedConnect({ ...(home.env as Record<string, string>), BROWSER: '/nonexistent/mcpauthd-test-browser' }, []);
      expect(error.code).toBe(PROXY_ERROR_CODE);
      expect(error.message).toContain(`run: mcpauthd login ${fresh.url}`);
      expect(error.data).toEqual({ server_url: fresh.url, command: `mcpauthd login ${fresh.url}` });
      expect(stderr).toContain('could not start /nonexistent/mcpauthd-test-browser');
      // It did not sit out the login wait first.
      expect(ms).toBeLessThan(PROXY_LOGIN_WAIT_MS);
    });

    it('should answer within --login-wait, inside the client\'s request timeout, when the login is not approved', async () => {
      const { error, ms } = await refusedConnect({ ...(home.env as Record<string, string>), ...browserEnv('never') }, ['--login-wait', '2']);
      expect(error.code).toBe(PROXY_ERROR_CODE);
      expect(error.message).toContain('no approval within 2 s');
      expect(error.message).toContain(`run: mcpauthd login ${fresh.url}`);
      expect(ms).toBeGreaterThanOrEqual(2_000);
      expect(ms).toBeLessThan(20_000);
    });

    it('should wait, by default, less than the MCP TypeScript SDK\'s default request timeout', () => {
      expect(PROXY_LOGIN_WAIT_MS).toBeLessThan(DEFAULT_REQUEST_TIMEOUT_MSEC);
      expect(PROXY_LOGIN_WAIT_MS).toBeGreaterThanOrEqual(30_000);
    });
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
