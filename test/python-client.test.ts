/**
 * The stdlib-only Python client (client/python/mcpauthd_client.py), written
 * from docs/protocol.md alone, against the daemon as a child process holding
 * a real credential (oidc-provider login through the scripted browser).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpAuthdClient } from '../client/index.js';
import { Secret } from '../daemon/store/secret.js';
import type { AuthServer } from './fixtures/auth-server.js';
import { completeLogin } from './fixtures/browser.js';
import type { McpTestServer } from './fixtures/mcp-server.js';
import { REPO_ROOT, type DaemonProcess } from './helpers/daemon-process.js';
import { startProcessStack, type ProcessStack } from './helpers/process-stack.js';
import { runProcess, type ProcessRun } from './helpers/run-process.js';
import { recordOutput } from './helpers/secret-ledger.js';
import type { TempHome } from './helpers/temp-home.js';
import { openSealedStore } from './helpers/sealed-store.js';

const SCRIPT = join(REPO_ROOT, 'client', 'python', 'mcpauthd_client.py');

/** The Python client, run asynchronously (the authorization server runs in this process and must keep answering). */
function python(args: string[], env: NodeJS.ProcessEnv): Promise<ProcessRun> {
  return runProcess('python3', [SCRIPT, ...args], { env });
}

describe('client/python/mcpauthd_client.py', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  let authd: McpAuthdClient;
  const outputs: string[] = [];
  const run = async (args: string[], env: NodeJS.ProcessEnv = home.env) => {
    const result = await python(args, env);
    outputs.push(result.stderr);
    return result;
  };

  let stack: ProcessStack;
  beforeAll(async () => {
    stack = await startProcessStack();
    ({ as, mcp, home, daemon, authd } = stack);
    await authd.login({ server_url: mcp.url, insecure_loopback: true }, (p) => {
      if (p.stage === 'authorize_url' && p.authorize_url !== undefined) void completeLogin(p.authorize_url);
    });
  });
  afterAll(() => stack.stop());

  it('token: should print exactly the access token the daemon serves', async () => {
    const { access_token } = await authd.getToken(mcp.url);
    expect(await run(['token', mcp.url])).toEqual({ status: 0, stdout: `${access_token}\n`, stderr: '' });
    expect((await run(['token', '--header', mcp.url])).stdout).toBe(`Authorization: Bearer ${access_token}\n`);
    expect((await run(['token', '--resource', '--min-ttl', '60', '--scope', 'mcp:tools', mcp.url])).stdout).toBe(`${access_token}\n`);
  });

  it('token: should exit 4 with the login command when there is no credential', async () => {
    const result = await run(['token', `${mcp.url}/other`]);
    expect(result.status).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`mcpauthd login ${mcp.url}/other`);
  });

  it('token: should exit 1 on a scope that was not granted', async () => {
    const result = await run(['token', '--scope', 'mcp:admin', mcp.url]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('mcp:admin');
  });

  it('status: should print the daemon and credentials as JSON, without a token', async () => {
    const result = await run(['status']);
    // status stdout must never carry a secret: the suite-wide ledger checks it too (unlike token's stdout).
    outputs.push(result.stdout);
    expect(result.status).toBe(0);
    const status = JSON.parse(result.stdout) as { daemon: { pid: number }; credentials: { resource: string }[] };
    expect(status.daemon.pid).toBe(daemon.pid);
    expect(status.credentials.map((c) => c.resource)).toEqual([mcp.url]);
    expect(result.stdout).not.toContain((await authd.getToken(mcp.url)).access_token);
  });

  it('status: should follow the cursor through every page (issue 12 item 9)', async () => {
    // Planted next to the daemon (WAL lets a second connection write): long URLs make many pages.
    const store = openSealedStore(home.paths);
    const planted = Array.from({ length: 300 }, (_, i) => `https://py${String(i).padStart(3, '0')}.example.com/${'p'.repeat(300)}`);
    try {
      store.transaction(() => {
        for (const url of planted) {
          store.saveCredential({
            resource: url, serverUrl: url, issuer: 'https://as.example.com', clientId: 'c', scopes: [],
            accessToken: new Secret('at-python-paging'), tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, refreshToken: null, refreshAt: null,
          });
        }
      });
      const result = await run(['status']);
      expect(result.status).toBe(0);
      const status = JSON.parse(result.stdout) as { credentials: { resource: string }[]; total: number };
      expect(status.credentials.map((c) => c.resource).sort()).toEqual([...planted, mcp.resource].sort());
      expect(status.total).toBe(301);
    } finally {
      for (const url of planted) store.deleteCredential(url);
      store.close();
    }
  });

  describe('socket checks', () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'mcpauthd-py-'));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('should refuse a socket directory open to others, naming the chmod that fixes it', async () => {
      const dir = join(root, 'open');
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      const result = await run(['token', mcp.url], { ...home.env, MCPAUTHD_SOCKET: join(dir, 'd.sock') });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`has mode 0755; it must be 0700 (chmod 700 '${dir}')`);
    });

    it('should refuse a socket directory that is a symlink, even to the real one', async () => {
      const link = join(root, 'link');
      symlinkSync(home.paths.socketDir, link);
      const result = await run(['token', mcp.url], { ...home.env, MCPAUTHD_SOCKET: join(link, 'd.sock') });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('is not a real directory');
    });

    it('should exit 3 and say how to start the daemon when nothing listens', async () => {
      const dir = join(root, 'empty');
      mkdirSync(dir, { mode: 0o700 });
      const result = await run(['token', mcp.url], { ...home.env, MCPAUTHD_SOCKET: join(dir, 'd.sock') });
      expect(result.status).toBe(3);
      expect(result.stderr).toContain('start it with: mcpauthd daemon');
    });

    it('should find the socket under $XDG_RUNTIME_DIR when nothing else names it', async () => {
      const env: NodeJS.ProcessEnv = { ...home.env, XDG_RUNTIME_DIR: join(root, 'runtime') };
      delete env['MCPAUTHD_SOCKET'];
      mkdirSync(join(root, 'runtime', 'mcpauthd'), { recursive: true, mode: 0o700 });
      const result = await run(['token', mcp.url], env);
      expect(result.status).toBe(3);
      expect(result.stderr).toContain(join(root, 'runtime', 'mcpauthd', 'mcpauthd.sock'));
    });
  });

  it('should never print a secret except the token it was asked for, to stdout', () => {
    recordOutput('mcpauthd_client.py stderr and status stdout (python-client.test.ts)', outputs.join('\n'));
    for (const secret of as.issuedSecrets()) expect(outputs.join('\n')).not.toContain(secret);
  });
});
