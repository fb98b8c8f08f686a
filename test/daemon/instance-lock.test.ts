/**
 * Issue 12 item 7: one daemon per state directory, with a lock the kernel
 * drops when its holder dies. A pid file left behind names no one: a reused
 * pid, or any live process that is not a daemon, must not block a start.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireInstanceLock, kernelLockHolder, LOCK_FILE_NAME } from '../../daemon/os/instance-lock.js';
import { isAuthdError } from '../../shared/errors.js';
import { CLI } from '../helpers/daemon-process.js';
import { makeTempHome, type TempHome } from '../helpers/temp-home.js';

let home: TempHome;
afterEach(() => home.remove());

function freshHome(): TempHome {
  home = makeTempHome();
  mkdirSync(home.paths.home, { recursive: true, mode: 0o700 });
  return home;
}

describe('acquireInstanceLock', () => {
  it('should start over a pid file whose pid is a live process that holds no lock (reused pid)', () => {
    const { paths } = freshHome();
    // The parent of this test worker: alive, ours, and certainly not a daemon.
    writeFileSync(paths.pidFile, `${process.ppid}\n`);
    const lock = acquireInstanceLock(paths.pidFile, 'the test home');
    lock.release();
  });

  it('should refuse a second holder, name the first one\'s pid, and let go on release', () => {
    const { paths } = freshHome();
    const first = acquireInstanceLock(paths.pidFile, 'the test home');
    let caught: unknown;
    try {
      acquireInstanceLock(paths.pidFile, 'the test home').release();
    } catch (err) {
      caught = err;
    }
    expect(isAuthdError(caught, 'ALREADY_RUNNING')).toBe(true);
    expect((caught as Error).message).toContain(`pid ${process.pid}`);
    if (process.platform === 'linux') expect(kernelLockHolder(join(paths.home, LOCK_FILE_NAME))).toBe(process.pid);
    first.release();
    // The kernel dropped it with the connection: nobody holds it now.
    if (process.platform === 'linux') expect(kernelLockHolder(join(paths.home, LOCK_FILE_NAME))).toBeUndefined();
    acquireInstanceLock(paths.pidFile, 'the test home').release();
  });
});

interface Outcome {
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `mcpauthd daemon` and settles when it is ready (still running) or has exited. */
function startRacer(env: NodeJS.ProcessEnv): { settled: Promise<Outcome>; stop(): Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'daemon'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const settled = new Promise<Outcome>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('mcpauthd ready')) resolve({ pid: child.pid as number, code: null, stdout, stderr });
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    void exited.then((code) => resolve({ pid: child.pid as number, code, stdout, stderr }));
  });
  return {
    settled,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('two daemons starting at once on one state directory', () => {
  it('should leave exactly one running, and the other should name its pid', async () => {
    const { env } = freshHome();
    for (let round = 0; round < 3; round++) {
      // A pid file left by a crash, naming a live process that is no daemon: never the one to name.
      writeFileSync(home.paths.pidFile, `${process.ppid}\n`);
      const racers = [startRacer(env), startRacer(env), startRacer(env)];
      try {
        const outcomes = await Promise.all(racers.map((r) => r.settled));
        const running = outcomes.filter((o) => o.code === null);
        expect(running).toHaveLength(1);
        for (const lost of outcomes.filter((o) => o.code !== null)) {
          expect(lost.code).toBe(1);
          // It lost either the state directory lock or, had it got that far, the socket: both name the winner.
          expect(lost.stderr).toContain(`pid ${running[0]!.pid}`);
        }
      } finally {
        await Promise.all(racers.map((r) => r.stop()));
      }
    }
    // Nine daemon processes start and stop here: slow on a loaded machine, no sleeps involved.
  }, 90_000);
});
