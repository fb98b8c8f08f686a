/**
 * The service definitions as text: what they must and must not contain, and
 * checked by the real tools where this machine has them (systemd-analyze
 * verify for the unit; for the plist a strict reader here, plus plutil -lint on
 * macOS).
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath } from '../../client/cli/run-command.js';
import { LAUNCHD_LABEL, renderLaunchdPlist, renderSystemdUnit, systemdUnitPath, type ServiceInputs } from '../../client/cli/service-unit.js';
import { DAEMON_NODE_OPTIONS } from '../../shared/daemon-launch.js';
import { CLI, REPO_ROOT } from '../helpers/daemon-process.js';
import { parsePlist } from '../helpers/plist.js';

const inputs: ServiceInputs = {
  nodePath: process.execPath,
  cliPath: CLI,
  home: '/home/u/.local/state/mcpauthd',
  socket: '/run/user/1000/mcpauthd/mcpauthd.sock',
  socketDir: '/run/user/1000/mcpauthd',
  runtimeDir: '/run/user/1000',
  configDir: '/home/u/.config/mcpauthd',
};

/** Settings of the [Service] section, as key → values (a key may repeat). */
function serviceSettings(unit: string): Map<string, string[]> {
  const section = unit.split('[Service]')[1]?.split('[Install]')[0] ?? '';
  const map = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    if (line.startsWith('#') || !line.includes('=')) continue;
    const key = line.slice(0, line.indexOf('='));
    map.set(key, [...(map.get(key) ?? []), line.slice(line.indexOf('=') + 1)]);
  }
  return map;
}

const systemdAnalyze = findOnPath('systemd-analyze', process.env);
const plutil = findOnPath('plutil', process.env);

/** `systemd-analyze --user verify` on the unit under its real name; returns its complaints. */
function verify(unit: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mcpauthd-unit-'));
  try {
    const runtime = join(dir, 'run');
    mkdirSync(runtime, { mode: 0o700 });
    writeFileSync(join(dir, 'mcpauthd.service'), unit);
    const result = spawnSync(systemdAnalyze as string, ['--user', 'verify', join(dir, 'mcpauthd.service')], {
      encoding: 'utf8',
      env: { ...process.env, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_LEVEL: 'notice' },
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the daemon\'s Node options (shared/daemon-launch.ts)', () => {
  it('npm start should start the daemon with the same Node options as the service units', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['start']).toBe(`node ${DAEMON_NODE_OPTIONS.join(' ')} dist/client/cli/main.js daemon`);
    expect(DAEMON_NODE_OPTIONS).toEqual(['--max-semi-space-size=2', '--no-allocation-site-pretenuring', '--optimize-for-size']);
  });

  it('this Node should accept them (an unknown flag would stop the daemon before it starts)', () => {
    const result = spawnSync(process.execPath, [...DAEMON_NODE_OPTIONS, '-e', 'process.stdout.write("ran")'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ran');
    expect(result.status).toBe(0);
  });
});

describe('renderSystemdUnit()', () => {
  it('should run this node and CLI in the foreground with the paths pinned, restarting on failure', () => {
    const s = serviceSettings(renderSystemdUnit(inputs));
    expect(s.get('ExecStart')).toEqual([`"${process.execPath}" "--max-semi-space-size=2" "--no-allocation-site-pretenuring" "--optimize-for-size" "${CLI}" "daemon" "--home" "/home/u/.local/state/mcpauthd" "--socket" "/run/user/1000/mcpauthd/mcpauthd.sock"`]);
    expect(s.get('Type')).toEqual(['exec']);
    expect(s.get('Restart')).toEqual(['on-failure']);
    // Longer than a refresh in flight may take to commit on SIGTERM (issue 12 item 3).
    expect(s.get('TimeoutStopSec')).toEqual(['150']);
  });

  it('should carry the hardening a user service can use, and never MemoryDenyWriteExecute', () => {
    const unit = renderSystemdUnit(inputs);
    const s = serviceSettings(unit);
    expect(Object.fromEntries([...s].map(([k, v]) => [k, v.join(' | ')]))).toMatchObject({
      UMask: '0077',
      LimitCORE: '0',
      NoNewPrivileges: 'yes',
      PrivateTmp: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'read-only',
      ReadWritePaths: '"/home/u/.local/state/mcpauthd" | "/home/u/.config/mcpauthd"',
      LockPersonality: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
      RuntimeDirectory: 'mcpauthd',
      RuntimeDirectoryMode: '0700',
    });
    expect(s.has('MemoryDenyWriteExecute')).toBe(false);
    expect(unit).toMatch(/\[Install\]\nWantedBy=default\.target\n$/);
  });

  it('should make the socket directory writable the right way for where it is', () => {
    const inHome = serviceSettings(renderSystemdUnit({ ...inputs, socket: `${inputs.home}/run/mcpauthd.sock`, socketDir: `${inputs.home}/run`, runtimeDir: undefined, configDir: `${inputs.home}/config` }));
    expect(inHome.get('ReadWritePaths')).toEqual([`"${inputs.home}"`]);
    expect(inHome.has('RuntimeDirectory')).toBe(false);
    const elsewhere = serviceSettings(renderSystemdUnit({ ...inputs, socket: '/srv/sock/d.sock', socketDir: '/srv/sock' }));
    expect(elsewhere.get('ReadWritePaths')).toEqual([`"${inputs.home}"`, '"/srv/sock"', `"${inputs.configDir}"`]);
    expect(elsewhere.has('RuntimeDirectory')).toBe(false);
  });

  it('should pin the config directory (the key file) and carry the key provider and askpass helper chosen at install', () => {
    const plain = serviceSettings(renderSystemdUnit(inputs));
    expect(plain.get('Environment')).toEqual(['"MCPAUTHD_CONFIG_DIR=/home/u/.config/mcpauthd"']);
    const chosen = serviceSettings(renderSystemdUnit({ ...inputs, configDir: '/srv/keys 100%', environment: { MCPAUTHD_KEY_PROVIDER: 'key_file', MCPAUTHD_ASKPASS: '/usr/bin/ssh-askpass' } }));
    expect(chosen.get('Environment')).toEqual(['"MCPAUTHD_CONFIG_DIR=/srv/keys 100%%"', '"MCPAUTHD_KEY_PROVIDER=key_file"', '"MCPAUTHD_ASKPASS=/usr/bin/ssh-askpass"']);
    expect(chosen.get('ReadWritePaths')).toContain('"/srv/keys 100%%"');
    expect(() => renderSystemdUnit({ ...inputs, environment: { PATH: '/evil' } })).toThrow(/not a variable the service carries/);
    expect(() => renderSystemdUnit({ ...inputs, environment: { MCPAUTHD_ASKPASS: '/x\nExecStartPre=/bin/true' } })).toThrow(/control character/);
    expect(() => renderSystemdUnit({ ...inputs, configDir: 'keys' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('should quote paths so spaces, quotes, % and $ stay literal', () => {
    const odd = { ...inputs, home: '/home/u/My "State" 100%/$HOME' };
    const s = serviceSettings(renderSystemdUnit(odd));
    expect(s.get('ExecStart')?.[0]).toContain('"--home" "/home/u/My \\"State\\" 100%%/$$HOME"');
    expect(s.get('ReadWritePaths')?.[0]).toBe('"/home/u/My \\"State\\" 100%%/$HOME"');
  });

  it('should refuse relative paths and control characters (a newline would add a directive)', () => {
    expect(() => renderSystemdUnit({ ...inputs, home: 'state' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => renderSystemdUnit({ ...inputs, home: '/x\nExecStartPre=/bin/rm -rf ~' })).toThrow(/control character/);
  });

  it('should find the unit under XDG_CONFIG_HOME, else ~/.config', () => {
    expect(systemdUnitPath({ XDG_CONFIG_HOME: '/cfg' }, '/home/u')).toBe('/cfg/systemd/user/mcpauthd.service');
    expect(systemdUnitPath({ XDG_CONFIG_HOME: 'relative' }, '/home/u')).toBe('/home/u/.config/systemd/user/mcpauthd.service');
  });

  (systemdAnalyze === undefined ? it.skip : it)('should pass systemd-analyze verify without a single warning', () => {
    for (const variant of [inputs, { ...inputs, home: '/home/u/My "State" 100%/$HOME', runtimeDir: undefined, environment: { MCPAUTHD_KEY_PROVIDER: 'key_file', MCPAUTHD_ASKPASS: '/usr/bin/ssh-askpass' } }]) {
      const result = verify(renderSystemdUnit(variant));
      expect(result).toEqual({ status: 0, output: '' });
    }
  });

  (systemdAnalyze === undefined ? it.skip : it)('should be checked for real: systemd-analyze rejects a broken unit', () => {
    const broken = renderSystemdUnit(inputs).replace(`"${process.execPath}"`, '"/nonexistent/node"').replace('LockPersonality=yes', 'LockPersonality=yes\nBogusSetting=1');
    const result = verify(broken);
    expect(result.output).toMatch(/BogusSetting|not executable/);
  });
});

describe('renderLaunchdPlist()', () => {
  it('should parse back to the agent launchd needs: label, argv, RunAtLoad, KeepAlive, logs in the state directory', () => {
    const plist = parsePlist(renderLaunchdPlist({ ...inputs, home: '/Users/u/Library/Application Support/mcpauthd', runtimeDir: undefined }));
    expect(plist).toEqual({
      Label: LAUNCHD_LABEL,
      ProgramArguments: [process.execPath, '--max-semi-space-size=2', '--no-allocation-site-pretenuring', '--optimize-for-size', CLI, 'daemon', '--home', '/Users/u/Library/Application Support/mcpauthd', '--socket', inputs.socket],
      EnvironmentVariables: { MCPAUTHD_CONFIG_DIR: inputs.configDir },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      // Time to commit a refresh the authorization server may still answer (REFRESH_TIMEOUT_MS + 10 s metadata).
      ExitTimeOut: 150,
      Umask: 0o077,
      SoftResourceLimits: { Core: 0 },
      HardResourceLimits: { Core: 0 },
      StandardOutPath: '/Users/u/Library/Application Support/mcpauthd/logs/daemon.log',
      StandardErrorPath: '/Users/u/Library/Application Support/mcpauthd/logs/daemon.log',
    });
  });

  it('should escape XML in paths so they read back unchanged', () => {
    const home = `/Users/u/a&b <c> "d" 'e'`;
    const plist = parsePlist(renderLaunchdPlist({ ...inputs, home, environment: { MCPAUTHD_ASKPASS: `${home}/ask` } })) as { ProgramArguments: string[]; EnvironmentVariables: Record<string, string> };
    expect(plist.ProgramArguments[6]).toBe('--home');
    expect(plist.ProgramArguments[7]).toBe(home);
    expect(plist.EnvironmentVariables).toEqual({ MCPAUTHD_CONFIG_DIR: inputs.configDir, MCPAUTHD_ASKPASS: `${home}/ask` });
  });

  it('the strict reader: should reject what is not a plist', () => {
    const good = renderLaunchdPlist(inputs);
    expect(() => parsePlist(good.replace('<true/>', '<yes/>'))).toThrow(/yes/);
    expect(() => parsePlist(good.replace('</dict>\n</plist>', '<key>Orphan</key></dict>\n</plist>'))).toThrow(/no value/);
    expect(() => parsePlist(good.replace('daemon<', 'a & b<'))).toThrow(/bare &/);
    expect(() => parsePlist(`${good}junk`)).toThrow(/trailing/);
  });

  (plutil === undefined ? it.skip : it)('should pass plutil -lint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpauthd-plist-'));
    try {
      writeFileSync(join(dir, 'agent.plist'), renderLaunchdPlist(inputs));
      const result = spawnSync(plutil as string, ['-lint', join(dir, 'agent.plist')], { encoding: 'utf8' });
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
