/**
 * What a supervisor (systemd, launchd) relies on: the daemon stays in the
 * foreground as the process that was started, logs JSON lines to stderr,
 * exits non-zero when it cannot start. And what people without a supervisor
 * get: --log-file (0600, in a private directory), and `mcpauthd log-level`
 * to change the running daemon's level without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { until } from './helpers/until.js';

describe('the daemon under a supervisor', () => {
  let home: TempHome;
  let daemon: DaemonProcess;
  let logFile: string;

  beforeAll(async () => {
    home = makeTempHome();
    logFile = join(home.root, 'logs', 'daemon.log');
    daemon = await startDaemonProcess(home.env, ['--log-level', 'info', '--log-file', logFile]);
  });

  afterAll(async () => {
    if (daemon.child.exitCode === null) await daemon.stop();
    home.remove();
  });

  it('should serve from the very process that was started (no fork) and print only the ready line on stdout', () => {
    const status = JSON.parse(runCli(['status', '--json'], home.env).stdout) as { daemon: { pid: number } };
    expect(status.daemon.pid).toBe(daemon.child.pid);
    expect(daemon.stdout()).toBe(`mcpauthd ready pid=${daemon.child.pid} socket=${home.paths.socket}\n`);
  });

  it('should log JSON lines to stderr, and the same lines to --log-file, created 0600 in a 0700 directory', async () => {
    const lines = daemon.stderr().trim().split('\n').map((l) => JSON.parse(l) as { level: string; message: string });
    expect(lines.some((l) => l.level === 'info' && l.message === 'daemon started')).toBe(true);
    expect(statSync(join(home.root, 'logs')).mode & 0o777).toBe(0o700);
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
    await until(() => readFileSync(logFile, 'utf8').includes('"message":"daemon started"'), 'the start line in the log file');
  });

  it('log-level: should change the running daemon\'s level at once, for every transport', async () => {
    // The file transport writes asynchronously, but in order: a line that shows up proves every line before it is there.
    const statusLines = (text: string) => text.split('\n').filter((l) => l.includes('"message":"request"') && l.includes('"method":"status"')).length;
    const fileStatusLines = () => statusLines(readFileSync(logFile, 'utf8'));
    runCli(['status'], home.env); // per-request lines are debug: not logged at info

    expect(runCli(['log-level', 'debug'], home.env)).toMatchObject({ status: 0, stdout: 'log level debug (was info)\n' });
    runCli(['status'], home.env);
    await until(() => fileStatusLines() > 0, 'the status request line in the log file');
    await until(() => statusLines(daemon.stderr()) > 0, 'the status request line on stderr');
    // Exactly one: the status at info level was not logged.
    expect(fileStatusLines()).toBe(1);

    expect(runCli(['log-level', 'ERROR'], home.env).stdout).toBe('log level error (was debug)\n');
    runCli(['status'], home.env); // not logged at error
    // Back to debug and one more status: when its line shows up, the one at error level would be before it.
    expect(runCli(['log-level', 'debug'], home.env).status).toBe(0);
    runCli(['status'], home.env);
    await until(() => fileStatusLines() >= 2, 'the second logged status request line');
    expect(fileStatusLines()).toBe(2);
    await until(() => statusLines(daemon.stderr()) >= 2, 'the second status request line on stderr');
    expect(statusLines(daemon.stderr())).toBe(2);
  });

  it('log-level: should reject an unknown level (exit 2) and report a missing daemon (exit 3)', () => {
    const bad = runCli(['log-level', 'loud'], home.env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('the log level must be one of error, warn, info, debug');
    const other = makeTempHome();
    try {
      expect(runCli(['log-level', 'info'], other.env).status).toBe(3);
    } finally {
      other.remove();
    }
  });
});

describe('the daemon when it cannot start', () => {
  it('should exit non-zero (so Restart=on-failure applies): bad log level 2, log file in an open directory 1', () => {
    const home = makeTempHome();
    try {
      expect(runCli(['daemon', '--log-level', 'loud'], home.env).status).toBe(2);
      const open = join(home.root, 'open');
      mkdirSync(open, { mode: 0o755 });
      chmodSync(open, 0o755);
      const result = runCli(['daemon', '--log-file', join(open, 'd.log')], home.env);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`cannot log to ${join(open, 'd.log')}: directory ${open} has mode 0755`);
      expect(result.stderr).toContain(`chmod 700 "${open}"`);
      expect(result.stdout).toBe('');
    } finally {
      home.remove();
    }
  });
});

describe('the daemon with --log-format', () => {
  it('text: should write readable lines to stderr and still JSON lines to --log-file; an unknown format exits 2', async () => {
    const home = makeTempHome();
    try {
      expect(runCli(['daemon', '--log-format', 'yaml'], home.env).status).toBe(2);
      const logFile = join(home.root, 'logs', 'daemon.log');
      const daemon = await startDaemonProcess(home.env, ['--log-format', 'text', '--log-file', logFile]);
      await daemon.stop();
      const started = daemon.stderr().split('\n').find((l) => l.includes(' daemon started '));
      expect(started).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z info  daemon started pid=${daemon.pid} version=\\S+ socket=${home.paths.socket.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} `));
      const fileLines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(fileLines.find((l) => l['message'] === 'daemon started')).toMatchObject({ level: 'info', pid: daemon.pid });
    } finally {
      home.remove();
    }
  });
});
