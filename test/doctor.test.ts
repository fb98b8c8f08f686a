/**
 * `mcpauthd doctor` through the built CLI, each failing check provoked once:
 * loose permissions, no daemon, a daemon of another version (the one fake: a
 * protocol speaker on the socket), and against a real daemon with credentials
 * planted in its database: a clock an hour off an authorization server, a
 * credential that needs a login, an authorization server that does not answer,
 * a plain-http issuer. HOME points into the test directory so the real service is never read.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { DoctorReport } from '../client/cli/doctor.js';
import { nodeSupport } from '../client/cli/node-support.js';
import type { StatusResult } from '../shared/protocol/types.js';
import { VERSION } from '../shared/version.js';
import { ensurePrivateDirectory } from '../daemon/os/private-path.js';
import { Secret } from '../daemon/store/secret.js';
import { runCli, runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { startFakeDaemon } from './helpers/fake-daemon.js';
import { recordSecret } from './helpers/secret-ledger.js';
import { newCredential } from './helpers/new-credential.js';
import { baseOutsideTmp, makeTempHome, type TempHome } from './helpers/temp-home.js';
import { openSealedStore } from './helpers/sealed-store.js';

/** The temp home's env, with HOME, XDG_CONFIG_HOME and PATH inside the test directory. */
function isolated(home: TempHome): NodeJS.ProcessEnv {
  const bin = join(home.root, 'bin');
  mkdirSync(bin, { recursive: true });
  return { ...home.env, HOME: join(home.root, 'user'), XDG_CONFIG_HOME: join(home.root, 'user', '.config'), PATH: bin, NO_COLOR: '1' };
}

/** The Node.js running these tests gets its own check (test/node-support.test.ts): one more warning on Node 20. */
const NODE_STATUS = nodeSupport(process.versions.node).support === 'supported' ? 'ok' : 'warn';
const warnings = (n: number) => {
  const total = n + (NODE_STATUS === 'warn' ? 1 : 0);
  return `${total} warning${total === 1 ? '' : 's'}`;
};

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const line = (stdout: string, start: string) => stdout.split('\n').find((l) => l.startsWith(start));

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('mcpauthd doctor: local problems', () => {
  it('should report loose permissions and a daemon that is down, with the fix for each, and exit 1', () => {
    const home = makeTempHome();
    try {
      mkdirSync(home.paths.home, { mode: 0o755 });
      chmodSync(home.paths.home, 0o755);
      writeFileSync(home.paths.database, '', { mode: 0o644 });
      chmodSync(home.paths.database, 0o644);
      const env = isolated(home);
      const result = runCli(['doctor'], env);
      expect(result.status).toBe(1);
      expect(result.stdout).toContain(`FAIL  state directory: ${home.paths.home} has mode 0755: group or others can reach it\n      fix: chmod 700 "${home.paths.home}"`);
      expect(result.stdout).toContain(`FAIL  database: ${home.paths.database} has mode 0644: group or others can reach it\n      fix: chmod 600 "${home.paths.database}"`);
      expect(result.stdout).toContain(`FAIL  the daemon is not reachable: the mcpauthd daemon is not running (nothing listens on ${home.paths.socket})`);
      expect(result.stdout).toContain('fix: start it: mcpauthd daemon (or install the service: mcpauthd install-service)');
      expect(result.stdout).toContain('skip  version not compared: the daemon did not answer');
      expect(result.stdout).toContain('warn  no service installed: the daemon runs only while you start it yourself\n      fix: mcpauthd install-service');
      expect(result.stdout.endsWith(`\n3 problems found, ${warnings(1)}\n`)).toBe(true);

      const json = runCli(['doctor', '--json'], env);
      expect(json.status).toBe(1);
      const report = JSON.parse(json.stdout) as DoctorReport;
      expect(report).toMatchObject({ version: VERSION, ok: false });
      expect(report.checks.map((c) => [c.id, c.status])).toEqual([
        ['node', NODE_STATUS],
        ['state_directory', 'fail'],
        ['database', 'fail'],
        ['socket_directory', 'ok'],
        ['daemon', 'fail'],
        ['version', 'skip'],
        ['service', 'warn'],
        ['login_callback', process.platform === 'linux' ? 'ok' : 'warn'],
        ['clock', 'ok'],
        ['credential', 'skip'],
      ]);
    } finally {
      home.remove();
    }
  });
});

describe('mcpauthd doctor: a daemon of another version', () => {
  // The one fact a real daemon of this build cannot show: another version on the socket.
  let home: TempHome;
  let fake: Awaited<ReturnType<typeof startFakeDaemon>>;

  beforeAll(async () => {
    home = makeTempHome();
    const now = Math.floor(Date.now() / 1000);
    const status: StatusResult = {
      daemon: { pid: 4242, version: '0.0.1', protocol: 1, socket: home.paths.socket, home: home.paths.home, started_at: now - 600, peer_check: 'peercred' },
      credentials: [],
      total: 0,
      next_cursor: null,
      next_offset: null,
    };
    fake = await startFakeDaemon(home.paths.socket, { hello: () => ({ protocol: 1, version: '0.0.1', pid: 4242 }), status: () => status });
  });

  afterAll(async () => {
    if (fake !== undefined) await fake.close();
    home?.remove();
  });

  it('should name the version skew and the restart that fixes it, asking the daemon (not the database)', async () => {
    const result = await runCliAsync(['doctor', '--json'], isolated(home), '');
    expect(result.status).toBe(1);
    expect(fake.asked).toEqual(['hello', 'status']);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([
      {
        id: 'version',
        status: 'fail',
        message: `the daemon runs mcpauthd 0.0.1 but this CLI is ${VERSION} (upgraded without restarting the daemon?)`,
        fix: 'restart the daemon: stop the running "mcpauthd daemon" and start it again',
      },
    ]);
    expect(report.checks.find((c) => c.id === 'daemon')?.message).toBe(`the daemon answers on ${home.paths.socket} (pid 4242, up 10 min)`);
  });
});

describe('mcpauthd doctor: remote problems, against a real daemon with planted credentials', () => {
  let home: TempHome;
  let daemon: DaemonProcess;
  let as: Server;
  let asUrl: string;
  let deadUrl: string;

  beforeAll(async () => {
    home = makeTempHome();
    // An authorization server whose clock is an hour behind ours.
    as = createHttpServer((req, res) => {
      res.setHeader('Date', new Date(Date.now() - 3_600_000).toUTCString());
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: asUrl, authorization_endpoint: `${asUrl}/authorize`, token_endpoint: `${asUrl}/token` }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => as.listen(0, '127.0.0.1', resolve));
    asUrl = `http://127.0.0.1:${(as.address() as AddressInfo).port}`;
    deadUrl = `http://127.0.0.1:${await freePort()}`;

    // Rows in the daemon's own database, as a login would have left them; none is due for a refresh.
    // The daemon sets umask 077 before SQLite creates its files; planting here must too.
    const umask = process.umask(0o077);
    ensurePrivateDirectory(home.paths.home);
    const store = openSealedStore(home.paths);
    try {
      const now = Date.now();
      const plant = (resource: string, issuer: string) => {
        // Tokens of their own, handed to the secret ledger: doctor and the daemon must print neither.
        const host = new URL(resource).hostname.split('.')[0];
        const access = `doctor-planted-access-${host}-0000`;
        const refresh = `doctor-planted-refresh-${host}-000`;
        recordSecret(access);
        recordSecret(refresh);
        return store.saveCredential(
          newCredential({ resource, serverUrl: resource, issuer, scopes: ['read'], accessToken: new Secret(access), refreshToken: new Secret(refresh), expiresAt: now + 3_600_000, refreshAt: now + 3_000_000 }),
        );
      };
      plant('https://ok.example.com/mcp', asUrl);
      const gone = plant('https://gone.example.com/mcp', deadUrl);
      store.setState(gone.resourceKey, 'needs_login', { lastError: 'invalid_grant: the refresh token was revoked' });
      plant('https://plain.example.com/mcp', 'http://as.example.com');
    } finally {
      store.close();
      process.umask(umask);
    }
    daemon = await startDaemonProcess(home.env);
  });

  afterAll(async () => {
    // Each part closed even when beforeAll failed half-way: a server left listening keeps jest from exiting.
    if (daemon !== undefined) await daemon.stop();
    if (as !== undefined) await new Promise<void>((resolve) => as.close(() => resolve()));
    home?.remove();
  });

  it('should name each problem and its fix, and exit 1', async () => {
    const result = await runCliAsync(['doctor'], isolated(home), '');
    const out = result.stdout;
    expect(result.status).toBe(1);
    expect(line(out, 'ok    the daemon answers')).toMatch(new RegExp(`^ok    the daemon answers on ${escapeRegExp(home.paths.socket)} \\(pid ${daemon.pid}, up [^)]+\\)$`));
    expect(out).toContain(`ok    the daemon and this CLI are both ${VERSION}`);
    expect(out).toMatch(new RegExp(`FAIL  the system clock is 60 min ahead of ${asUrl}: tokens will look valid or expired at the wrong time\\n      fix: turn on time synchronisation`));
    expect(out).toMatch(/ok {4}https:\/\/ok\.example\.com\/mcp: valid, expires in (59|60) min/);
    expect(out).toContain('FAIL  https://gone.example.com/mcp needs a new login: invalid_grant: the refresh token was revoked\n      fix: mcpauthd login https://gone.example.com/mcp');
    expect(out).toContain(`ok    ${asUrl} answers (${asUrl}/.well-known/oauth-authorization-server)`);
    expect(out).toContain(`FAIL  cannot read the metadata of ${deadUrl}: ${deadUrl}/.well-known/oauth-authorization-server: connection refused (ECONNREFUSED)\n      fix: check the network, proxy or VPN; until it answers, its credential cannot be refreshed`);
    expect(out).toContain(
      'FAIL  cannot read the metadata of http://as.example.com: the issuer http://as.example.com is not https (plain http is allowed only to loopback)\n' +
        '      fix: mcpauthd reaches authorization servers over https only (plain http only on loopback); if the server moved, log in again: mcpauthd login https://plain.example.com/mcp',
    );
    expect(out.endsWith(`\n4 problems found, ${warnings(1)}\n`)).toBe(true);
  });

  it('--json: should give every check a stable id, subject, status, message and fix', async () => {
    const result = await runCliAsync(['doctor', '--json'], isolated(home), '');
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => [c.id, c.subject ?? null])).toEqual([
      ['clock', null],
      ['credential', 'https://gone.example.com/mcp'],
      ['authorization_server', deadUrl],
      ['authorization_server', 'http://as.example.com'],
    ]);
    for (const check of report.checks) {
      expect(Object.keys(check).every((k) => ['id', 'subject', 'status', 'message', 'fix'].includes(k))).toBe(true);
      if (check.status === 'fail') expect(typeof check.fix).toBe('string');
    }
  });
});

describe('mcpauthd doctor: a healthy set-up', () => {
  let home: TempHome;
  let daemon: Awaited<ReturnType<typeof startDaemonProcess>>;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // Outside /tmp: install-service refuses paths a PrivateTmp=yes unit would hide.
    home = makeTempHome('mcpauthd-test-', baseOutsideTmp());
    daemon = await startDaemonProcess(home.env);
    env = isolated(home);
  });

  afterAll(async () => {
    await daemon.stop();
    home.remove();
  });

  it('should pass every check and exit 0 with the daemon up and the service installed and enabled', () => {
    expect(runCli(['install-service'], env).status).toBe(0);
    const unit = join(env['XDG_CONFIG_HOME'] as string, 'systemd', 'user', 'mcpauthd.service');
    mkdirSync(join(unit, '..', 'default.target.wants'));
    symlinkSync(unit, join(unit, '..', 'default.target.wants', 'mcpauthd.service'));
    const result = runCli(['doctor', '--json'], env);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.checks.filter((c) => c.status !== 'ok' && c.id !== 'node')).toEqual([]);
    expect(result.status).toBe(0);
    expect(report.checks.find((c) => c.id === 'version')?.message).toBe(`the daemon and this CLI are both ${VERSION}`);
    expect(report.checks.find((c) => c.id === 'service')?.message).toBe(`the systemd user unit ${unit} is installed and enabled`);
  });

  it('should warn, and still exit 0, when the service is not enabled or out of date', () => {
    const unit = join(env['XDG_CONFIG_HOME'] as string, 'systemd', 'user', 'mcpauthd.service');
    const moved = runCli(['doctor'], { ...env, MCPAUTHD_HOME: join(home.root, 'elsewhere') });
    expect(moved.status).toBe(0);
    expect(moved.stdout).toContain(
      `warn  the systemd user unit ${unit} differs from what install-service writes now (node or mcpauthd moved, or other --home/--socket)\n      fix: mcpauthd install-service`,
    );

    rmSync(join(unit, '..', 'default.target.wants', 'mcpauthd.service'));
    const disabled = runCli(['doctor'], env);
    expect(disabled.status).toBe(0);
    expect(disabled.stdout).toContain(`warn  the systemd user unit ${unit} is installed but not enabled: it will not start at login\n      fix: systemctl --user enable --now mcpauthd.service`);
  });
});
