/**
 * One daemon per state directory, held by a lock the kernel drops when the
 * holding process dies, however it dies: SQLite's own exclusive lock on a
 * small lock database next to the pid file (`daemon.lock`). No pid is ever
 * probed to decide who holds the lock, so a pid reused after a crash, a zombie
 * or another user's process never blocks a start, and no daemon unlinks a
 * lock someone else may hold.
 *
 * Who holds the lock is read from the kernel where it says (Linux
 * /proc/locks); elsewhere from the pid file, a label the holder writes after
 * taking the lock.
 */
import Database from 'better-sqlite3';
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AuthdError } from '../../shared/errors.js';

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
 * The lock holder's pid as the kernel reports it (Linux /proc/locks: the
 * process holding a write lock on the lock file's inode), or undefined where
 * that cannot be read. Exact even while the holder is still starting.
 */
export function kernelLockHolder(lockPath: string, locksText?: string): number | undefined {
  let text = locksText;
  let st: { ino: bigint; dev: bigint };
  try {
    st = statSync(lockPath, { bigint: true });
    text ??= readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  // Linux encodes st_dev as minor:20 major:12 bits (new_encode_dev); /proc/locks prints MAJ:MIN:INODE, hex:hex:decimal.
  const major = (st.dev >> 8n) & 0xfffn;
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & 0xfff00n);
  const device = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // "1: POSIX  ADVISORY  WRITE 4520 08:01:1234 1073741824 1073742335" ("->" marks a waiter).
    if (fields[1] !== 'POSIX' || fields[3] !== 'WRITE' || fields[5] === undefined) continue;
    if (fields[5].toLowerCase() === device) {
      const pid = Number.parseInt(fields[4] ?? '', 10);
      if (Number.isSafeInteger(pid) && pid > 0) return pid;
    }
  }
  return undefined;
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
    const pid = kernelLockHolder(lockPath) ?? holderPid(pidFile, lockPath);
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
