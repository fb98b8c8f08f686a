/**
 * The CLI against a daemon started as a real child process, the way users run
 * it. Credentials are planted through the store module before start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { ensurePrivateDirectory } from '../daemon/os/private-path.js';
import { Secret } from '../daemon/store/secret.js';
import { runCli, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { openSealedStore } from './helpers/sealed-store.js';

const ACCESS = 'eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL2EifQ.c2lnbmF0dXJlLXRlc3Q';
const REFRESH = 'refresh-token-that-must-never-be-printed-1234567890';

function plant(home: TempHome): void {
  process.umask(0o077);
  ensurePrivateDirectory(home.paths.home);
  const store = openSealedStore(home.paths);
  const base = { issuer: 'https://as.example.com', clientId: 'c1', tokenType: 'Bearer', refreshAt: null };
  store.saveCredential({ ...base, resource: 'https://a.example.com/mcp', serverUrl: 'https://a.example.com/mcp', scopes: ['mcp:tools'], accessToken: new Secret(ACCESS), refreshToken: new Secret(REFRESH), expiresAt: Date.now() + 3_600_000 });
  store.saveCredential({ ...base, resource: 'https://b.example.com/mcp', serverUrl: 'https://b.example.com/mcp', scopes: [], accessToken: new Secret('expired-token-b-0000000000'), refreshToken: null, expiresAt: Date.now() - 60_000 });
  const c = store.saveCredential({ ...base, resource: 'https://c.example.com/mcp', serverUrl: 'https://c.example.com/mcp', scopes: [], accessToken: new Secret('token-c-needs-login-000000'), refreshToken: new Secret('refresh-c-000000000000000'), expiresAt: Date.now() - 1000 });
  store.setState(c.resourceKey, 'needs_login', { lastError: 'refresh token rejected (invalid_grant)' });
  store.close();
}

describe('mcpauthd CLI against a real daemon process', () => {
  let home: TempHome;
  let daemon: DaemonProcess;
  const outputs: string[] = [];
  const cli = (args: string[], input?: string) => {
    const result = runCli(args, home.env, input);
    outputs.push(result.stderr, args[0] === 'token' ? '' : result.stdout);
    return result;
  };

  beforeAll(async () => {
    home = makeTempHome();
    plant(home);
    daemon = await startDaemonProcess(home.env);
  });

  afterAll(async () => {
    if (daemon.child.exitCode === null) await daemon.stop();
    home.remove();
  });

  it('status: should list every credential and its state, never a token', () => {
    const result = cli(['status']);
    expect(result.stdout).toMatch(/https:\/\/a\.example\.com\/mcp .*mcp:tools .*in (59|60) min .*valid/);
    expect(result.stdout).toMatch(/https:\/\/b\.example\.com\/mcp .*expired/);
    expect(result.stdout).toMatch(/https:\/\/c\.example\.com\/mcp .*needs_login .*invalid_grant/);
    expect(result.status).toBe(4); // a credential needs a login
  });

  it('status --json: should print the documented shape without secrets', () => {
    const result = cli(['status', '--json']);
    const parsed = JSON.parse(result.stdout) as { daemon: Record<string, unknown>; credentials: Record<string, unknown>[] };
    expect(parsed.daemon).toMatchObject({ pid: daemon.pid, socket: home.paths.socket, home: home.paths.home });
    expect(typeof parsed.daemon['version']).toBe('string');
    expect(typeof parsed.daemon['started_at']).toBe('number');
    expect(parsed.credentials.map((c) => c['state'])).toEqual(['valid', 'expired', 'needs_login']);
    expect(Object.keys(parsed.credentials[0] as object).sort()).toEqual(
      ['client_id', 'created_at', 'expires_at', 'has_refresh_token', 'issuer', 'last_error', 'last_refresh_at', 'next_attempt_at', 'programs_last_day', 'refresh_at', 'resource', 'scopes', 'server_urls', 'state', 'updated_at'].sort(),
    );
  });

  it('token: should print the access token alone on stdout', () => {
    const result = cli(['token', 'https://a.example.com/mcp']);
    expect(result).toMatchObject({ status: 0, stdout: `${ACCESS}\n`, stderr: '' });
    expect(cli(['token', '--resource', 'https://A.example.com:443/mcp']).status).toBe(0);
  });

  it('token: should exit 4 with the login command when there is no credential, or it needs login or expired', () => {
    const missing = cli(['token', 'https://a.example.com/mcp/other']);
    expect(missing.status).toBe(4);
    expect(missing.stderr).toContain('mcpauthd login https://a.example.com/mcp/other');
    expect(cli(['token', 'https://b.example.com/mcp']).status).toBe(4);
    const c = cli(['token', 'https://c.example.com/mcp']);
    expect(c.status).toBe(4);
    expect(c.stderr).toMatch(/needs a new login/);
  });

  it('token: should name the stored credential a near miss meant (trailing slash, http), and still never serve it', () => {
    for (const near of ['https://a.example.com/mcp/', 'http://a.example.com/mcp', 'HTTPS://A.example.com:443/mcp/']) {
      const result = cli(['token', near]);
      expect(result).toMatchObject({ status: 4, stdout: '' });
      expect(result.stderr).toBe(
        `mcpauthd token: no credential for ${near}; a credential exists for https://a.example.com/mcp (URLs must match exactly): mcpauthd token https://a.example.com/mcp\n`,
      );
      expect(result.stderr).not.toContain(ACCESS);
    }
    // Not near: another path is another resource, and gets the login command.
    expect(cli(['token', 'https://a.example.com/mcp/other']).stderr).toContain('run: mcpauthd login https://a.example.com/mcp/other');
  });

  it('token: should exit 1 for scopes that were not granted, and 2 for bad usage', () => {
    expect(cli(['token', 'https://a.example.com/mcp', '--scope', 'mcp:admin']).status).toBe(1);
    expect(cli(['token']).status).toBe(2);
    expect(cli(['token', 'https://a.example.com/mcp', '--min-ttl', 'soon']).status).toBe(2);
    expect(cli(['token', 'https://a.example.com/mcp', '--bogus']).status).toBe(2);
    expect(cli(['frobnicate']).status).toBe(2);
  });

  it('--help and --version: should work on every command', () => {
    expect(cli(['--version']).stdout).toMatch(/^mcpauthd \d+\.\d+\.\d+/);
    for (const command of ['daemon', 'status', 'token', 'logout', 'login']) {
      const help = cli([command, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`mcpauthd ${command}`);
    }
  });

  it('a second daemon on the same state directory: should refuse and name the pid', () => {
    const second = runCli(['daemon'], home.env);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`pid ${daemon.pid}`);
  });

  it('a second daemon on the same socket with another home: should refuse', () => {
    const other = makeTempHome();
    try {
      const second = runCli(['daemon'], { ...home.env, MCPAUTHD_HOME: other.paths.home });
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`pid ${daemon.pid}.*already listening`));
    } finally {
      other.remove();
    }
  });

  it('logout: should delete the credential', () => {
    const result = cli(['logout', 'https://b.example.com/mcp', '--json']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: true, resource: 'https://b.example.com/mcp', revoked: false });
    // No authorization server metadata was ever stored for this planted credential.
    expect(JSON.parse(result.stdout).revocation_note).toMatch(/not revoked/);
    expect(cli(['token', 'https://b.example.com/mcp']).status).toBe(4);
  });

  it('SIGTERM: should exit 0, remove the socket and keep every credential', async () => {
    expect(await daemon.stop('SIGTERM')).toBe(0);
    expect(existsSync(home.paths.socket)).toBe(false);
    expect(existsSync(home.paths.pidFile)).toBe(false);
    const down = cli(['status']);
    expect(down.status).toBe(3);
    expect(down.stderr).toContain('mcpauthd daemon');
    const store = openSealedStore(home.paths);
    expect(store.list().map((r) => r.resource)).toEqual(['https://a.example.com/mcp', 'https://c.example.com/mcp']);
    store.close();
  });

  it('no stored token: should appear in any daemon log line or CLI output of this run', () => {
    const everything = [...outputs, daemon.stderr(), daemon.stdout()].join('\n');
    expect(everything.length).toBeGreaterThan(500);
    for (const secret of [ACCESS, REFRESH, 'refresh-c-000000000000000', 'token-c-needs-login-000000', 'expired-token-b-0000000000']) {
      expect(everything).not.toContain(secret);
    }
  });
});

describe('daemon start-up checks', () => {
  it('should replace a stale socket left by a crashed daemon', async () => {
    const home = makeTempHome();
    try {
      const first = await startDaemonProcess(home.env);
      await first.stop('SIGKILL');
      expect(existsSync(home.paths.socket)).toBe(true); // the crash left it behind
      const second = await startDaemonProcess(home.env);
      expect(runCli(['status'], home.env).status).toBe(0);
      expect(second.stderr()).toContain('replaced a stale socket');
      expect(await second.stop()).toBe(0);
    } finally {
      home.remove();
    }
  });

  it('should refuse to start when the state directory is open to others, naming the fix', () => {
    const home = makeTempHome();
    try {
      mkdirSync(home.paths.home, { mode: 0o755 });
      chmodSync(home.paths.home, 0o755);
      const result = runCli(['daemon'], home.env);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`chmod 700 "${home.paths.home}"`);
    } finally {
      home.remove();
    }
  });

  it('should refuse to start when the socket directory is open to others', () => {
    const home = makeTempHome();
    try {
      mkdirSync(home.paths.socketDir, { mode: 0o777 });
      chmodSync(home.paths.socketDir, 0o777);
      const result = runCli(['daemon'], home.env);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/mode 0777/);
    } finally {
      home.remove();
    }
  });

  it('a client: should refuse a socket whose directory is open to others', async () => {
    const home = makeTempHome();
    try {
      mkdirSync(home.paths.socketDir, { mode: 0o755 });
      chmodSync(home.paths.socketDir, 0o755);
      const planted = createServer((s) => s.end());
      await new Promise<void>((resolve) => planted.listen(home.paths.socket, resolve));
      const result = runCli(['status'], home.env);
      planted.close();
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/refusing to talk to .*mode 0755/);
    } finally {
      home.remove();
    }
  });

  it('should create its directories 0700 and its database 0600', async () => {
    const home = makeTempHome();
    try {
      const d = await startDaemonProcess(home.env);
      const mode = (p: string) => statSync(p).mode & 0o777;
      expect(mode(home.paths.home)).toBe(0o700);
      expect(mode(home.paths.socketDir)).toBe(0o700);
      expect(mode(home.paths.database)).toBe(0o600);
      await d.stop();
    } finally {
      home.remove();
    }
  });
});
