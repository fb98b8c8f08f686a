/**
 * Issue 14.1: an MCP client starts `mcpauthd proxy` with the SDK's default
 * environment (HOME, LOGNAME, PATH, SHELL, TERM, USER: no XDG_RUNTIME_DIR, no
 * MCPAUTHD_*), while the daemon was started in a desktop session with
 * XDG_RUNTIME_DIR=/run/user/<uid>. Both must agree on the socket.
 *
 * This uses the REAL /run/user/<uid> (no injected base): as root it creates
 * /run/user/0 (0700) when it is missing and removes it afterwards; otherwise it
 * needs the user's own /run/user/<uid> to exist, as logind makes it. It is
 * skipped, with the reason, where neither holds or when a daemon of this user
 * may already use /run/user/<uid>/mcpauthd.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpAuthdClient } from '../client/index.js';
import { RUN_USER_BASE } from '../shared/paths.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { CLI, REPO_ROOT, runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { recordOutput } from './helpers/secret-ledger.js';

const PYTHON_CLIENT = join(REPO_ROOT, 'client', 'python', 'mcpauthd_client.py');
const uid = process.getuid?.();
const runtimeDir = uid === undefined ? undefined : join(RUN_USER_BASE, String(uid));
const isRoot = uid === 0;
function skipReason(): string | undefined {
  if (process.platform !== 'linux' || runtimeDir === undefined) return `not Linux (${process.platform}): no /run/user`;
  if (existsSync(join(runtimeDir, 'mcpauthd'))) return `${runtimeDir}/mcpauthd already exists: a daemon of this user may be using it`;
  if (!existsSync(runtimeDir) && !isRoot) return `${runtimeDir} does not exist and only root may create it here`;
  return undefined;
}
const reason = skipReason();
if (reason !== undefined) process.stderr.write(`default-socket.test.ts skipped: ${reason}\n`);

(reason === undefined ? describe : describe.skip)('the default daemon found from the user, not the environment (real /run/user/<uid>)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let root: string;
  let daemon: DaemonProcess;
  let createdRuntimeDir = false;
  let daemonEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    if (!existsSync(runtimeDir as string)) {
      mkdirSync(runtimeDir as string, { mode: 0o700 });
      createdRuntimeDir = true;
    }
    root = mkdtempSync(join(tmpdir(), 'mcpauthd-xdg-'));
    // A desktop session's daemon: XDG_RUNTIME_DIR set, nothing pinned.
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: root, XDG_RUNTIME_DIR: runtimeDir, MCPAUTHD_LOG_LEVEL: 'debug', ...browserEnv() };
    for (const key of ['MCPAUTHD_HOME', 'MCPAUTHD_SOCKET', 'XDG_STATE_HOME']) delete env[key];
    daemonEnv = env;
    daemon = await startDaemonProcess(daemonEnv);
  });

  afterAll(async () => {
    await daemon?.stop();
    recordOutput('daemon with XDG_RUNTIME_DIR (default-socket.test.ts)', `${daemon?.stdout() ?? ''}\n${daemon?.stderr() ?? ''}`);
    rmSync(join(runtimeDir as string, 'mcpauthd'), { recursive: true, force: true });
    if (createdRuntimeDir) rmSync(runtimeDir as string, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    await mcp.stop();
    await as.stop();
  });

  it('should reach a daemon started with XDG_RUNTIME_DIR from a proxy an MCP SDK client started with its default environment', async () => {
    expect(daemon.stdout()).toContain(`socket=${join(runtimeDir as string, 'mcpauthd', 'mcpauthd.sock')}`);
    const login = await runCliAsync(['login', mcp.url, '--insecure-loopback'], daemonEnv);
    expect(login.status).toBe(0);

    // What the proxy will see: the SDK's default, without XDG_RUNTIME_DIR or any MCPAUTHD_ variable.
    const inherited = Object.keys(getDefaultEnvironment());
    expect(inherited).not.toContain('XDG_RUNTIME_DIR');
    expect(inherited.filter((k) => k.startsWith('MCPAUTHD_'))).toEqual([]);
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'proxy', mcp.url], stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const client = new Client({ name: 'default-env', version: '1.0.0' });
    try {
      await client.connect(transport);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'found it' } });
      expect((result.content as { text: string }[])[0]?.text).toBe('found it');
      for (const r of mcp.requests().filter((x) => x.outcome === 'mcp')) expect(r.tokenAud).toEqual([mcp.url]);
    } finally {
      await client.close();
      recordOutput('proxy stderr (default-socket.test.ts)', stderr);
    }
    expect(stderr).not.toContain('not running');
  });

  it('should let the Python client, the CLI and the library find it the same way, with the default environment', async () => {
    const env = { ...getDefaultEnvironment(), HOME: root };
    const py = spawnSync('python3', [PYTHON_CLIENT, 'token', mcp.url], { env, encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.status).toBe(0);
    const cli = await runCliAsync(['token', mcp.url], env);
    expect(cli.stderr).toBe('');
    expect(cli.stdout.trim()).toBe(py.stdout.trim());
    // The library, from a process whose environment has no XDG_RUNTIME_DIR.
    const saved = process.env['XDG_RUNTIME_DIR'];
    delete process.env['XDG_RUNTIME_DIR'];
    const authd = new McpAuthdClient();
    try {
      expect(authd.socketPath).toBe(join(runtimeDir as string, 'mcpauthd', 'mcpauthd.sock'));
      expect((await authd.getToken(mcp.url)).access_token).toBe(py.stdout.trim());
    } finally {
      authd.close();
      if (saved !== undefined) process.env['XDG_RUNTIME_DIR'] = saved;
    }
  });

  it('should name every path it tried when no daemon listens (CLI and Python client with the default environment)', async () => {
    await daemon.stop();
    const env = { ...getDefaultEnvironment(), HOME: root };
    const result = await runCliAsync(['token', mcp.url], env);
    expect(result.status).not.toBe(0);
    const tried = `tried ${join(runtimeDir as string, 'mcpauthd', 'mcpauthd.sock')}, ${join(root, '.local', 'state', 'mcpauthd', 'run', 'mcpauthd.sock')}`;
    expect(result.stderr).toContain(tried);
    const py = spawnSync('python3', [PYTHON_CLIENT, 'token', mcp.url], { env, encoding: 'utf8' });
    expect(py.status).toBe(3);
    expect(py.stderr).toContain(tried);
  });
});
