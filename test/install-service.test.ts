/**
 * `mcpauthd install-service` in a temporary HOME. The built CLI runs as a
 * child with HOME and XDG_CONFIG_HOME pointing into the test directory and a
 * PATH holding only a stub systemctl (or nothing), so the real system is never
 * touched. The macOS flow runs in-process with a recording launchctl.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectService, installService, uninstallService, type ServiceContext } from '../client/cli/install-service.js';
import type { CommandResult } from '../client/cli/run-command.js';
import { LAUNCHD_LABEL } from '../client/cli/service-unit.js';
import { resolvePaths } from '../shared/paths.js';
import { CLI, runCli } from './helpers/daemon-process.js';
import { parsePlist } from './helpers/plist.js';
import { baseOutsideTmp } from './helpers/temp-home.js';

interface Sandbox {
  root: string;
  env: NodeJS.ProcessEnv;
  unit: string;
  stateDir: string;
  /** Installs a systemctl that records its arguments and exits with `exitCode`. */
  stubSystemctl(exitCode?: number): void;
  calls(): string[];
}

/** `base`: where the sandbox lives; by default outside /tmp, which a PrivateTmp=yes unit would hide. */
function makeSandbox(base: string = baseOutsideTmp()): Sandbox {
  const root = mkdtempSync(join(base, 'mcpauthd-svc-'));
  const home = join(root, 'home');
  const bin = join(root, 'bin');
  mkdirSync(home);
  mkdirSync(bin);
  const log = join(root, 'systemctl.log');
  // Only what the test sets: no MCPAUTHD_* from the outer environment, no real PATH.
  const env: NodeJS.ProcessEnv = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(root, 'run'), PATH: bin, STUB_LOG: log };
  return {
    root,
    env,
    unit: join(home, '.config', 'systemd', 'user', 'mcpauthd.service'),
    stateDir: join(home, '.local', 'state', 'mcpauthd'),
    stubSystemctl(exitCode = 0) {
      const failure = exitCode === 0 ? '' : `echo "Failed to connect to bus: No medium found" >&2\n`;
      writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> "$STUB_LOG"\n${failure}exit ${exitCode}\n`, { mode: 0o755 });
    },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}

describe('mcpauthd install-service (Linux, systemd --user)', () => {
  let box: Sandbox;
  beforeEach(() => {
    box = makeSandbox();
  });
  afterEach(() => rmSync(box.root, { recursive: true, force: true }));

  it('--print: should write the unit to stdout and touch nothing', () => {
    const result = runCli(['install-service', '--print'], box.env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`ExecStart="${process.execPath}" "--max-semi-space-size=2" "--no-allocation-site-pretenuring" "--optimize-for-size" "${CLI}" "daemon" "--home" "${box.stateDir}"`);
    expect(result.stdout).toContain('RuntimeDirectory=mcpauthd');
    expect(existsSync(join(box.env['HOME'] as string, '.config'))).toBe(false);
    expect(existsSync(join(box.env['HOME'] as string, '.local'))).toBe(false);
  });

  it('without systemctl: should write the unit, create the state directory 0700 and print the commands to run', () => {
    const result = runCli(['install-service'], box.env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`wrote ${box.unit}`);
    expect(result.stdout).toContain('systemctl is not on PATH; to start the service, run:\n  systemctl --user daemon-reload\n  systemctl --user enable --now mcpauthd.service');
    expect(readFileSync(box.unit, 'utf8')).toBe(runCli(['install-service', '--print'], box.env).stdout);
    expect(statSync(box.stateDir).mode & 0o777).toBe(0o700);
    // The key file is made there at the daemon's first start, which ProtectHome=read-only allows only in a directory that exists.
    expect(statSync(join(box.env['XDG_CONFIG_HOME'] as string, 'mcpauthd')).mode & 0o777).toBe(0o700);
  });

  it('should keep a custom config directory, key provider and askpass helper for the service, as they are now', () => {
    const configDir = join(box.root, 'keys');
    const env = { ...box.env, MCPAUTHD_CONFIG_DIR: configDir, MCPAUTHD_KEY_PROVIDER: 'key_file', MCPAUTHD_ASKPASS: '/usr/bin/ssh-askpass' };
    expect(runCli(['install-service'], env).status).toBe(0);
    const unit = readFileSync(box.unit, 'utf8');
    expect(unit).toContain(`Environment="MCPAUTHD_CONFIG_DIR=${configDir}"`);
    expect(unit).toContain('Environment="MCPAUTHD_KEY_PROVIDER=key_file"');
    expect(unit).toContain('Environment="MCPAUTHD_ASKPASS=/usr/bin/ssh-askpass"');
    expect(unit).toContain(`ReadWritePaths="${configDir}"`);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    // Under /tmp, PrivateTmp would hide the key file from the service: refused like the state directory.
    const hidden = runCli(['install-service', '--print'], { ...box.env, MCPAUTHD_CONFIG_DIR: '/tmp/mcpauthd-keys' });
    expect(hidden.status).toBe(2);
    expect(hidden.stderr).toContain('the config directory /tmp/mcpauthd-keys is under /tmp');
  });

  it('with systemctl: should reload and enable --now, and re-running should change nothing', () => {
    box.stubSystemctl();
    expect(runCli(['install-service'], box.env).status).toBe(0);
    expect(box.calls()).toEqual(['--user daemon-reload', '--user enable --now mcpauthd.service']);
    const before = statSync(box.unit);

    const again = runCli(['install-service'], box.env);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('is up to date');
    expect(box.calls().slice(2)).toEqual(['--user enable --now mcpauthd.service']);
    const after = statSync(box.unit);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('with a changed unit: should rewrite it and restart a running service', () => {
    box.stubSystemctl();
    runCli(['install-service'], box.env);
    const other = join(box.root, 'other-state');
    const result = runCli(['install-service', '--home', other], box.env);
    expect(result.stdout).toContain(`updated ${box.unit}`);
    expect(readFileSync(box.unit, 'utf8')).toContain(`ReadWritePaths="${other}"`);
    expect(box.calls().slice(2)).toEqual(['--user daemon-reload', '--user enable --now mcpauthd.service', '--user try-restart mcpauthd.service']);
  });

  it('when systemctl fails: should exit 1, keep the unit and say what to run', () => {
    box.stubSystemctl(1);
    const result = runCli(['install-service'], box.env);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('"systemctl --user daemon-reload" failed: Failed to connect to bus');
    expect(result.stdout).toContain('systemctl --user enable --now mcpauthd.service');
    expect(existsSync(box.unit)).toBe(true);
  });

  it('--uninstall: should disable, remove and reload; a second run should find nothing to do', () => {
    box.stubSystemctl();
    runCli(['install-service'], box.env);
    const result = runCli(['install-service', '--uninstall'], box.env);
    expect(result.status).toBe(0);
    expect(existsSync(box.unit)).toBe(false);
    expect(box.calls().slice(2)).toEqual(['--user disable --now mcpauthd.service', '--user daemon-reload', '--user reset-failed mcpauthd.service']);
    const again = runCli(['install-service', '--uninstall'], box.env);
    expect(again).toMatchObject({ status: 0, stdout: expect.stringContaining('no service installed') });
    expect(box.calls()).toHaveLength(5);
  });

  it('--uninstall without systemctl: should also remove the enable link it left behind', () => {
    runCli(['install-service'], box.env);
    const wants = join(box.unit, '..', 'default.target.wants');
    mkdirSync(wants);
    symlinkSync(box.unit, join(wants, 'mcpauthd.service'));
    expect(runCli(['install-service', '--uninstall'], box.env).status).toBe(0);
    expect(existsSync(box.unit)).toBe(false);
    expect(existsSync(join(wants, 'mcpauthd.service'))).toBe(false);
  });

  it('--uninstall when systemctl cannot disable: should leave the unit in place and exit 1', () => {
    runCli(['install-service'], box.env);
    box.stubSystemctl(1);
    const result = runCli(['install-service', '--uninstall'], box.env);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('the unit was left in place');
    expect(existsSync(box.unit)).toBe(true);
  });

  // Issue 14.2: PrivateTmp=yes gives the service its own /tmp; a state directory or socket there is invisible to clients.
  it('should refuse a state directory or socket under /tmp or /var/tmp, naming PrivateTmp and the fix, and write nothing', () => {
    const tmpBox = makeSandbox(tmpdir());
    try {
      tmpBox.stubSystemctl();
      for (const args of [['install-service'], ['install-service', '--print']]) {
        const result = runCli(args, tmpBox.env);
        // 2: the paths given (or defaulted from HOME) cannot be used with this command.
        expect(result.status).toBe(2);
        expect(result.stderr).toContain(`the state directory ${tmpBox.stateDir} is under /tmp`);
        expect(result.stderr).toContain('PrivateTmp=yes');
        expect(result.stderr).toContain('--home ~/.local/state/mcpauthd');
      }
      expect(existsSync(tmpBox.unit)).toBe(false);
      expect(tmpBox.calls()).toEqual([]);
      // Only the socket in /var/tmp: named the same way.
      const socketOnly = runCli(['install-service', '--print', '--socket', '/var/tmp/mcpauthd-x/d.sock'], box.env);
      expect(socketOnly.status).toBe(2);
      expect(socketOnly.stderr).toContain('the socket /var/tmp/mcpauthd-x/d.sock is under /var/tmp');
    } finally {
      rmSync(tmpBox.root, { recursive: true, force: true });
    }
  });

  it('doctor: should flag an installed unit that pins a path under /tmp, with the fix', () => {
    const result = runCli(['install-service', '--print'], box.env);
    expect(result.status).toBe(0);
    // A unit as an older install-service wrote it, for a state directory in /tmp.
    mkdirSync(join(box.unit, '..'), { recursive: true });
    writeFileSync(box.unit, result.stdout.replace(`"--home" "${box.stateDir}"`, '"--home" "/tmp/mcpauthd-state"'));
    const doctor = runCli(['doctor', '--json'], box.env);
    const service = (JSON.parse(doctor.stdout) as { checks: { id: string; status: string; message: string; fix?: string }[] }).checks.find((c) => c.id === 'service');
    expect(service).toMatchObject({ status: 'fail', message: expect.stringContaining('the state directory /tmp/mcpauthd-state is under /tmp') });
    expect(service?.message).toContain('PrivateTmp=yes');
    expect(service?.fix).toContain('mcpauthd install-service --home');
    expect(doctor.status).toBe(1);
  });

  it('--print with --uninstall: should be a usage error', () => {
    expect(runCli(['install-service', '--print', '--uninstall'], box.env).status).toBe(2);
  });
});

describe('installService() on macOS (launchd), with a recording launchctl', () => {
  let root: string;
  let calls: string[][];
  let loaded: boolean;
  let ctx: ServiceContext;
  const said: string[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mcpauthd-agent-'));
    calls = [];
    loaded = false;
    const userHome = join(root, 'Users', 'u');
    mkdirSync(userHome, { recursive: true });
    const env = { HOME: userHome };
    ctx = {
      platform: 'darwin',
      env,
      userHome,
      uid: 501,
      paths: resolvePaths({ env, platform: 'darwin', userHome }),
      nodePath: process.execPath,
      cliPath: CLI,
      which: (name) => (name === 'launchctl' ? '/bin/launchctl' : undefined),
      run: (command, args): CommandResult => {
        calls.push([command, ...args]);
        if (args[0] === 'bootstrap') loaded = true;
        if (args[0] === 'bootout') loaded = false;
        return { status: args[0] === 'print' && !loaded ? 113 : 0, stdout: '', stderr: '' };
      },
      say: (line) => said.push(line),
    };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('should write the LaunchAgent, create its log directory and bootstrap it into gui/<uid>', () => {
    expect(installService(ctx).ok).toBe(true);
    const plistPath = join(ctx.userHome, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
    expect(parsePlist(readFileSync(plistPath, 'utf8'))).toMatchObject({ Label: LAUNCHD_LABEL, RunAtLoad: true });
    expect(statSync(join(ctx.paths.home, 'logs')).mode & 0o777).toBe(0o700);
    expect(ctx.paths.home).toBe(join(ctx.userHome, 'Library', 'Application Support', 'mcpauthd'));
    expect(calls).toEqual([
      ['/bin/launchctl', 'print', `gui/501/${LAUNCHD_LABEL}`],
      ['/bin/launchctl', 'enable', `gui/501/${LAUNCHD_LABEL}`],
      ['/bin/launchctl', 'bootstrap', 'gui/501', plistPath],
    ]);
    expect(inspectService(ctx)).toMatchObject({ installed: true, enabled: true, current: true });
  });

  it('should be idempotent: an unchanged, loaded agent is left alone; a changed one is booted out and in again', () => {
    installService(ctx);
    calls = [];
    installService(ctx);
    expect(calls).toEqual([['/bin/launchctl', 'print', `gui/501/${LAUNCHD_LABEL}`]]);
    calls = [];
    installService({ ...ctx, nodePath: '/opt/node/bin/node' });
    expect(calls.map((c) => c[1])).toEqual(['print', 'bootout', 'enable', 'bootstrap']);
  });

  it('--uninstall: should boot it out and remove the plist', () => {
    installService(ctx);
    calls = [];
    expect(uninstallService(ctx).ok).toBe(true);
    expect(calls).toEqual([['/bin/launchctl', 'bootout', `gui/501/${LAUNCHD_LABEL}`]]);
    expect(inspectService(ctx)).toMatchObject({ installed: false, enabled: false });
  });
});
