/**
 * Issue 14.3: the daemon restarts (an upgrade, `systemctl --user restart`)
 * while MCP clients are mid-session. Real processes throughout: the daemon is
 * stopped with SIGTERM and started again twice while an SDK client calls tools
 * through `mcpauthd proxy` (StdioClientTransport) and another through the
 * fetch wrapper (StreamableHTTPClientTransport), with 1-hour tokens. Scaled
 * down from the 60 s: each phase (up, down, up again) lasts until
 * every caller has made a number of calls in it, so the property (0 failed
 * calls across two restarts) is shown by counts, not by sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpAuthdClient, createAuthorizedFetch } from '../client/index.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { CLI, runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { recordOutput } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

/** Calls `echo` in a loop until stopped, counting successes and keeping every failure. */
class Caller {
  ok = 0;
  readonly failures: string[] = [];
  #stopped = false;
  readonly done: Promise<void>;

  constructor(readonly name: string, client: Client) {
    this.done = (async () => {
      let i = 0;
      while (!this.#stopped) {
        const text = `${name} ${i++}`;
        try {
          const result = await client.callTool({ name: 'echo', arguments: { text } });
          const echoed = (result.content as { text: string }[])[0]?.text;
          if (result.isError === true || echoed !== text) this.failures.push(`${text}: ${JSON.stringify(result.content)}`);
          else this.ok++;
        } catch (err) {
          this.failures.push(`${text}: ${(err as Error).message}`);
        }
      }
    })();
  }

  stop(): Promise<void> {
    this.#stopped = true;
    return this.done;
  }
}

describe('a daemon restart in mid-session (1-hour tokens)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  const daemonOutput: string[] = [];
  let proxyStderr = '';
  let viaProxy: Client;
  let viaFetch: Client;
  let fetchAuthd: McpAuthdClient;

  const startDaemon = async () => {
    daemon = await startDaemonProcess(home.env);
  };
  const stopDaemon = async () => {
    expect(await daemon.stop()).toBe(0);
    daemonOutput.push(daemon.stdout(), daemon.stderr());
  };

  beforeAll(async () => {
    as = await startAuthServer({ accessTokenTtlSec: 3600 });
    mcp = await startMcpServer({ authServer: as });
    home = makeTempHome();
    await startDaemon();
    expect((await runCliAsync(['login', mcp.url, '--insecure-loopback'], { ...home.env, ...browserEnv() })).status).toBe(0);

    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'proxy', mcp.url], env: home.env as Record<string, string>, stderr: 'pipe' });
    transport.stderr?.on('data', (d: Buffer) => (proxyStderr += d.toString('utf8')));
    viaProxy = new Client({ name: 'restart-proxy', version: '1.0.0' });
    await viaProxy.connect(transport);

    fetchAuthd = new McpAuthdClient({ socket: home.paths.socket });
    viaFetch = new Client({ name: 'restart-fetch', version: '1.0.0' });
    await viaFetch.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { fetch: createAuthorizedFetch(mcp.url, { client: fetchAuthd }) }));
  });

  afterAll(async () => {
    await viaProxy?.close();
    await viaFetch?.close();
    fetchAuthd?.close();
    if (daemon.child.exitCode === null) await stopDaemon();
    recordOutput('daemon-restart.test.ts: daemon and proxy output', [...daemonOutput, proxyStderr].join('\n'));
    home.remove();
    await mcp.stop();
    await as.stop();
  });

  it('T1: should fail no call through the proxy or the fetch wrapper while the daemon restarts twice, every token for its own server', async () => {
    const refused = () => mcp.requests().filter((r) => r.outcome === 'invalid_token' || r.outcome === 'no_token').length;
    // The login's discovery probe (no token, on purpose) came before this.
    const refusedBefore = refused();
    const callers = [new Caller('proxy', viaProxy), new Caller('fetch', viaFetch)];
    // Resolves once every caller has made `n` more successful calls (or one failed: no point waiting).
    const calls = async (n: number) => {
      const targets = callers.map((c) => c.ok + n);
      await until(() => callers.every((c, i) => c.ok >= (targets[i] as number) || c.failures.length > 0), 30_000);
    };
    try {
      await calls(10);
      for (let restart = 1; restart <= 2; restart++) {
        await stopDaemon();
        await calls(10); // while nothing listens on the socket
        await startDaemon();
        await calls(10);
      }
    } finally {
      await Promise.all(callers.map((c) => c.stop()));
    }
    for (const c of callers) expect({ caller: c.name, failures: c.failures }).toEqual({ caller: c.name, failures: [] });
    for (const c of callers) expect(c.ok).toBeGreaterThanOrEqual(50);
    // Every request carried a token for exactly this server.
    const served = mcp.requests().filter((r) => r.outcome === 'mcp');
    expect(served.length).toBeGreaterThanOrEqual(100);
    for (const r of served) expect(r.tokenAud).toEqual([mcp.url]);
    expect(refused()).toBe(refusedBefore);
  });

  it('should pick up a token refreshed while it was up (credential.updated), and serve it once the daemon is gone', async () => {
    const jti = () => mcp.requests().filter((r) => r.outcome === 'mcp').at(-1)?.tokenJti;
    const requests = (method: string) => (daemon.stderr().match(new RegExp(`"method":"${method.replace('.', '\\.')}"`, 'g')) ?? []).length;
    const tokenGets = () => requests('token.get');
    await viaProxy.callTool({ name: 'echo', arguments: { text: 'before' } });
    await viaFetch.callTool({ name: 'echo', arguments: { text: 'before' } });
    const before = jti();
    // Both followers (the proxy's and the wrapper's) have subscribed to this daemon.
    await until(() => requests('subscribe') >= 2, 10_000);
    const asked = tokenGets();
    expect((await runCliAsync(['refresh', mcp.url], home.env)).status).toBe(0);
    // No MCP call in between: only the event makes the proxy and the wrapper ask for the new token.
    await until(() => tokenGets() >= asked + 2, 10_000);
    await stopDaemon();
    for (const client of [viaProxy, viaFetch]) {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'after' } });
      expect((result.content as { text: string }[])[0]?.text).toBe('after');
      expect(jti()).not.toBe(before);
    }
    await startDaemon();
  });
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
