/**
 * One daemon per state directory, held by a lock the kernel drops when the
 * holding process dies, however it dies: SQLite's own exclusive lock on a
 * small lock database next to the pid file (`daemon.lock`). No pid is ever
 * probed to decide who holds the lock, so a pid reused after a crash, a zombie
 * or another user's process never blocks a start, and no daemon unlinks a
 * lock someone else may hold.
 *
 * The pid file is only a label: the holder writes its pid there after taking
 * the lock, so a daemon that cannot take it can say which one is running.
 */
import Database from 'better-sqlite3';
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AuthdError } from '../shared/errors.js';

export const LOCK_FILE_NAME = 'daemon.lock';

export interface InstanceLock {
  release(): void;
}

/** How long a daemon that lost the lock waits for the winner to write its pid. */
const PID_WAIT_MS = 2000;
const PID_POLL_MS = 10;

function readPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function mtimeNs(path: string): bigint | null {
  try {
    return statSync(path, { bigint: true }).mtimeNs;
  } catch {
    return null;
  }
}

/**
 * The lock holder's pid, or null when it has not written one in time. The
 * holder writes the pid file after its lock commit changed the lock file, so a
 * pid file older than the lock file is a crashed daemon's leftover, not the
 * holder's: it is waited past rather than named.
 */
function holderPid(pidFile: string, lockPath: string): number | null {
  const deadline = Date.now() + PID_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const lockedAt = mtimeNs(lockPath);
    const writtenAt = mtimeNs(pidFile);
    if (lockedAt !== null && writtenAt !== null && writtenAt >= lockedAt) {
      const pid = readPid(pidFile);
      if (pid !== null) return pid;
    }
    if (Date.now() >= deadline) return null;
    // A synchronous pause: this runs once, on a start that is about to fail.
    Atomics.wait(pause, 0, 0, PID_POLL_MS);
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/**
 * Takes the state directory's lock or throws ALREADY_RUNNING naming the
 * holder's pid. The lock database is held open (and locked) until release().
 */
export function acquireInstanceLock(pidFile: string, description: string): InstanceLock {
  const lockPath = join(dirname(pidFile), LOCK_FILE_NAME);
  let db: Database.Database;
  try {
    db = new Database(lockPath, { timeout: 0 });
  } catch (err) {
    throw new AuthdError('STORE_UNAVAILABLE', `cannot open the lock ${lockPath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // In EXCLUSIVE locking mode SQLite keeps the lock of its first write until the
    // connection closes; the kernel releases it when the process dies.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder; INSERT INTO holder VALUES (' + String(process.pid) + '); COMMIT');
  } catch (err) {
    db.close();
    if (!isBusy(err)) {
      throw new AuthdError('STORE_UNAVAILABLE', `cannot take the lock ${lockPath}: ${(err as Error).message}; if no mcpauthd daemon runs, remove that file`, { cause: err });
    }
    const pid = holderPid(pidFile, lockPath);
    const who = pid === null ? 'another mcpauthd daemon (its pid file is missing)' : `another mcpauthd daemon (pid ${pid})`;
    const fix = pid === null ? 'stop it first' : `stop it first (kill ${pid})`;
    throw new AuthdError('ALREADY_RUNNING', `${who} is already using ${description}; ${fix} or use another --home`, { cause: err });
  }
  // Written whole and renamed into place, so a reader never sees half a pid.
  const temp = `${pidFile}.${process.pid}.tmp`;
  writeFileSync(temp, `${process.pid}\n`, { mode: 0o600 });
  renameSync(temp, pidFile);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      // Still holding the lock here, so the pid file is ours to remove.
      try {
        unlinkSync(pidFile);
      } catch {
        // already gone: nothing to remove
      }
      db.close();
    },
  };
}
