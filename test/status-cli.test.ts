/**
 * `mcpauthd status` against a real daemon: the --json shape is the stable
 * machine form (every field and its type), the exit status says whether a
 * login is needed, and colour appears on a terminal only, never with NO_COLOR.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { ensurePrivateDirectory } from '../daemon/os/private-path.js';
import { Secret } from '../daemon/store/secret.js';
import { findOnPath } from '../client/cli/run-command.js';
import { CLI, runCli, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { openSealedStore } from './helpers/sealed-store.js';

function plantValid(home: TempHome): void {
  process.umask(0o077);
  ensurePrivateDirectory(home.paths.home);
  const store = openSealedStore(home.paths);
  store.saveCredential({
    issuer: 'https://as.example.com', clientId: 'c1', tokenType: 'Bearer', refreshAt: null, resource: 'https://a.example.com/mcp', serverUrl: 'https://a.example.com/mcp',
    scopes: ['mcp:tools'], accessToken: new Secret('access-token-valid-0000000'), refreshToken: new Secret('refresh-token-valid-000000'), expiresAt: Date.now() + 3_600_000,
  });
  store.close();
}

type Kind = 'string' | 'number' | 'boolean' | 'string[]' | 'number|null' | 'string|null' | 'object';
const DAEMON_SCHEMA: Record<string, Kind> = { pid: 'number', version: 'string', protocol: 'number', socket: 'string', home: 'string', started_at: 'number', peer_check: 'string', core_dumps: 'object', callback_peer_check: 'string', encryption: 'object' };
const CREDENTIAL_SCHEMA: Record<string, Kind> = {
  programs_last_day: 'string[]',
  resource: 'string', server_urls: 'string[]', issuer: 'string', client_id: 'string', scopes: 'string[]', state: 'string',
  expires_at: 'number|null', refresh_at: 'number|null', has_refresh_token: 'boolean', last_refresh_at: 'number|null',
  next_attempt_at: 'number|null', last_error: 'string|null', created_at: 'number', updated_at: 'number',
};

function kindOf(value: unknown): Kind | 'other' {
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? 'string[]' : 'other';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return typeof value as Kind;
  if (typeof value === 'object' && value !== null) return 'object';
  return 'other';
}

function conforms(object: Record<string, unknown>, schema: Record<string, Kind>): string[] {
  const problems = Object.keys(object).filter((k) => !(k in schema)).map((k) => `unexpected ${k}`);
  for (const [key, kind] of Object.entries(schema)) {
    const value = object[key];
    const ok = kind.split('|').some((k) => (k === 'null' ? value === null : kindOf(value) === k));
    if (!ok) problems.push(`${key}: ${JSON.stringify(value)} is not ${kind}`);
  }
  return problems;
}

describe('mcpauthd status', () => {
  let home: TempHome;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    home = makeTempHome();
    plantValid(home);
    daemon = await startDaemonProcess(home.env);
  });

  afterAll(async () => {
    await daemon.stop();
    home.remove();
  });

  it('--json: should keep the documented shape, every field with its type', () => {
    const result = runCli(['status', '--json'], home.env);
    expect(result.status).toBe(0);
    const parsed = JSON.parse(result.stdout) as { daemon: Record<string, unknown>; credentials: Record<string, unknown>[] };
    expect(Object.keys(parsed).sort()).toEqual(['credentials', 'daemon']);
    expect(conforms(parsed.daemon, DAEMON_SCHEMA)).toEqual([]);
    // What `mcpauthd daemon` verified at start (issue 13 item 4; docs/protocol.md).
    expect(parsed.daemon['core_dumps']).toEqual(process.platform === 'linux' ? { core_limit_zero: true, dumpable: false, reason: null } : expect.any(Object));
    expect(parsed.credentials).toHaveLength(1);
    expect(conforms(parsed.credentials[0] as Record<string, unknown>, CREDENTIAL_SCHEMA)).toEqual([]);
    expect(parsed.credentials[0]).toMatchObject({ state: 'valid', has_refresh_token: true });
  });

  it('should exit 0 when no credential needs a login, with the daemon line and a row', () => {
    const result = runCli(['status'], home.env);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^daemon    running, pid ${daemon.pid}, version \\d+\\.\\d+\\.\\d+\\S*, up \\d+ s\\n`));
    expect(result.stdout).toContain(`database  ${home.paths.home}/mcpauthd.db`);
    expect(result.stdout).toMatch(/\nhttps:\/\/a\.example\.com\/mcp +mcp:tools +in (59|60) min +\S.* +valid\n$/);
    expect(result.stdout).not.toContain('\x1b[');
  });

  const script = process.platform === 'linux' ? findOnPath('script', process.env) : undefined;
  (script === undefined ? it.skip : it)('on a terminal: should colour the state, and not when NO_COLOR is set', () => {
    // The outer environment may carry NO_COLOR itself: start from one without it.
    const base = Object.fromEntries(Object.entries(home.env).filter(([k]) => k !== 'NO_COLOR'));
    const onTerminal = (extra: NodeJS.ProcessEnv) =>
      spawnSync(script as string, ['-qec', `"${process.execPath}" "${CLI}" status`, '/dev/null'], { env: { ...base, SHELL: '/bin/sh', ...extra }, encoding: 'utf8', timeout: 20_000 }).stdout;
    expect(onTerminal({})).toContain('\x1b[32mvalid\x1b[0m');
    const plain = onTerminal({ NO_COLOR: '1' });
    expect(plain).toContain('valid');
    expect(plain).not.toContain('\x1b[');
  });
});
