/**
 * One daemon per state directory: a pid file created with O_EXCL. A pid file
 * whose process is gone (a crash, a reboot) is stale and taken over; a live
 * one makes the second daemon refuse to start and name the first.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { AuthdError } from '../shared/errors.js';

export interface InstanceLock {
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function acquireInstanceLock(path: string, description: string): InstanceLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readPid(path);
      if (pid !== null && isAlive(pid)) {
        throw new AuthdError('ALREADY_RUNNING', `another mcpauthd daemon (pid ${pid}) is already using ${description}; stop it first (kill ${pid}) or use another --home`);
      }
      unlinkSync(path);
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return {
      release() {
        if (readPid(path) === process.pid) {
          try {
            unlinkSync(path);
          } catch {
            // already gone: nothing to release
          }
        }
      },
    };
  }
  throw new AuthdError('ALREADY_RUNNING', `could not take the lock ${path}: another daemon is starting at the same time`);
}
