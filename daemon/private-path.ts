/**
 * Owner-only directories and files, checked the way ssh-agent and git's
 * credential-cache check theirs: a path that is a symlink, belongs to someone
 * else, or is open to group/other is refused with the exact fix, never
 * silently chmod-ed (that would hide that someone could already have read it).
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { AuthdError } from '../shared/errors.js';

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function modeString(stats: Stats): string {
  return (stats.mode & 0o777).toString(8).padStart(4, '0');
}

function checkOwnerOnly(path: string, stats: Stats, kind: 'directory' | 'file', wanted: number): void {
  const uid = currentUid();
  if (uid !== undefined && stats.uid !== uid) {
    throw new AuthdError('INSECURE_PERMISSIONS', `${kind} ${path} is owned by uid ${stats.uid}, not by you (uid ${uid}); mcpauthd will not use it. Remove it or use another path (--home / --socket).`);
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new AuthdError(
      'INSECURE_PERMISSIONS',
      `${kind} ${path} has mode ${modeString(stats)}: group or others can reach it. Fix: chmod ${wanted.toString(8)} ${JSON.stringify(path)} (and check nobody else used it).`,
    );
  }
}

/**
 * Makes sure `path` is a directory owned by the current user with no group or
 * other bits, creating it 0700 (parents with default modes) when missing.
 * Created with its mode by mkdir itself: chmod afterwards would leave a window.
 */
export function ensurePrivateDirectory(path: string): void {
  let stats = lstatOrNull(path);
  if (stats === null) {
    mkdirSync(dirname(path), { recursive: true });
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    stats = lstatSync(path);
  }
  if (stats.isSymbolicLink()) throw new AuthdError('INSECURE_PERMISSIONS', `${path} is a symbolic link; mcpauthd needs a real directory there.`);
  if (!stats.isDirectory()) throw new AuthdError('INSECURE_PERMISSIONS', `${path} exists and is not a directory.`);
  checkOwnerOnly(path, stats, 'directory', 0o700);
}

/** When `path` exists it must be a regular file, ours, mode 0600 or tighter. Missing is fine. */
export function assertPrivateFileIfExists(path: string): void {
  const stats = lstatOrNull(path);
  if (stats === null) return;
  if (stats.isSymbolicLink()) throw new AuthdError('INSECURE_PERMISSIONS', `${path} is a symbolic link; mcpauthd will not follow it.`);
  if (!stats.isFile()) throw new AuthdError('INSECURE_PERMISSIONS', `${path} is not a regular file.`);
  checkOwnerOnly(path, stats, 'file', 0o600);
}
