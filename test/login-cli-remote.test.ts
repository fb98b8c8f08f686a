/**
 * `mcpauthd login` for a person whose browser is not on this machine (issue 16
 * items 1-3), as a user runs it: the daemon and the CLI as child processes, a
 * real authorization server (oidc-provider with the device flow) and MCP server.
 *  - `--device`, and the device login chosen by itself over SSH;
 *  - `--redirect-uri PORT --no-browser`: the ssh -L line, the pasted redirect,
 *    and a later login that uses the same fixed redirect again.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { paramValues, startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv, completeLogin } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { CLI, ledgerCliOutput, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

interface Running {
  /** Resolves with the first match of `pattern` in stderr so far or later. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  write(line: string): void;
  done: Promise<{ status: number | null; stdout: string; stderr: string }>;
}

/** Starts the CLI with a stdin the test can write to (a paste), watching its stderr. */
function startCli(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(stderr);
      if (match !== null) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    check();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (status) => {
      clearTimeout(timer);
      ledgerCliOutput(args, { stdout, stderr });
      resolve({ status, stdout, stderr });
    });
  });
  return {
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        void done.then(({ stderr: all }) => reject(new Error(`the CLI ended without printing ${pattern}:\n${all}`)));
      }),
    write: (line) => child.stdin.write(`${line}\n`),
    done,
  };
}

/** The environment of a terminal without a browser: no $BROWSER, no display. */
function headless(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { BROWSER: _b, DISPLAY: _d, WAYLAND_DISPLAY: _w, SSH_CONNECTION: _s, SSH_TTY: _t, ...rest } = env;
  return rest;
}

describe('mcpauthd login without a browser on this machine', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    as = await startAuthServer({ deviceFlow: true, deviceIntervalSec: 1 });
    mcp = await startMcpServer({ authServer: as });
    home = makeTempHome();
    daemon = await startDaemonProcess(home.env);
  });
  afterAll(async () => {
    await daemon.stop();
    await mcp.stop();
    await as.stop();
    home.remove();
  });

  it('--device prints where to go, the user code and the expiry; the approved login is stored and the device code shown nowhere', async () => {
    const cli = startCli(['login', mcp.url, '--device', '--insecure-loopback', '--json'], headless(home.env));
    const [, uri] = await cli.waitFor(/open in any browser.*:\n\n\s+(\S+)\n/);
    const [, code] = await cli.waitFor(/enter the code\s+(\S+)/);
    expect(uri).toBe(`${as.issuer}/device`);
    await as.approveDevice(code ?? '');
    const { status, stdout, stderr } = await cli.done;
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ resource: mcp.url, issuer: as.issuer, has_refresh_token: true });
    expect(stderr).toMatch(/the code expires at \d{4}-\d\d-\d\dT[\d:.]+Z \(in about 10 min\)/);
    expect(stderr).toContain(`(or open ${as.issuer}/device?user_code=`);
    const [device] = as.requests('device_authorization');
    expect(device && paramValues(device, 'resource')).toEqual([mcp.url]);
    const everything = [stdout, stderr, daemon.stderr(), daemon.stdout()].join('\n');
    for (const secret of as.issuedSecrets()) expect(everything).not.toContain(secret);
  });

  it('over SSH with no --device, the device login is chosen by itself and says why', async () => {
    const other = await startMcpServer({ authServer: as, resourcePath: '/over-ssh' });
    try {
      const cli = startCli(['login', other.url, '--insecure-loopback'], { ...headless(home.env), SSH_CONNECTION: '10.0.0.1 50000 10.0.0.2 22' });
      const [, code] = await cli.waitFor(/enter the code\s+(\S+)/);
      await as.approveDevice(code ?? '');
      const { status, stderr } = await cli.done;
      expect(status).toBe(0);
      expect(stderr).toContain('no browser can be opened here (this is an SSH session): using the device login if the server offers it');
    } finally {
      await other.stop();
    }
  });

  it('--redirect-uri PORT --no-browser prints the ssh -L line and takes the pasted redirect; a later login reuses the fixed redirect', async () => {
    const other = await startMcpServer({ authServer: as, resourcePath: '/forwarded' });
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const fixed = `http://127.0.0.1:${port}/callback`;
    try {
      as.clearRequests();
      const cli = startCli(['login', other.url, '--insecure-loopback', '--no-browser', '--redirect-uri', String(port)], home.env);
      const [, authorizeUrl] = await cli.waitFor(/^\s+(http\S+\/authorize\S+)$/m);
      await cli.waitFor(new RegExp(`ssh -L ${port}:127\\.0\\.0\\.1:${port} ${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      // The browser elsewhere: its redirect never reaches us; the user pastes it.
      const { callbackUrl } = await completeLogin(authorizeUrl ?? '', { deliverCallback: false });
      expect(callbackUrl.startsWith(`${fixed}?`)).toBe(true);
      cli.write(callbackUrl);
      const first = await cli.done;
      expect(first.status).toBe(0);
      expect(paramValues(as.requests('authorize')[0]!, 'redirect_uri')).toEqual([fixed]);

      // A plain re-login (a browser on this machine now) uses the same fixed redirect.
      as.clearRequests();
      const again = startCli(['login', other.url, '--insecure-loopback'], { ...home.env, ...browserEnv() });
      const second = await again.done;
      expect(second.status).toBe(0);
      expect(paramValues(as.requests('authorize')[0]!, 'redirect_uri')).toEqual([fixed]);
    } finally {
      await other.stop();
    }
  });

  it('a bad --redirect-uri is a usage error naming the problem', async () => {
    const { status, stderr } = await startCli(['login', mcp.url, '--redirect-uri', 'https://127.0.0.1:8765/cb'], home.env).done;
    expect(status).toBe(2);
    expect(stderr).toContain('--redirect-uri: redirect URI: only http:// loopback redirect URIs can be received here');
  });
});
