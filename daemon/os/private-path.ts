/**
 * Owner-only directories and files for the daemon: a path that breaks the
 * rule of shared/owner-only.ts (a symlink, someone else's, open to group or
 * other) is refused with the exact fix, never silently chmod-ed (that would
 * hide that someone could already have read it).
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { AuthdError } from '../../shared/errors.js';
import { lstatOrNull, ownerOnlyProblem, type OwnerOnlyKind } from '../../shared/owner-only.js';

function assertOwnerOnly(path: string, stats: Stats, kind: OwnerOnlyKind): void {
  const found = ownerOnlyProblem(path, stats, kind);
  if (found !== null) throw new AuthdError('INSECURE_PERMISSIONS', `${kind} ${found.problem}. Fix: ${found.fix}.`);
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
  assertOwnerOnly(path, stats, 'directory');
}

/** When `path` exists it must be a regular file, ours, mode 0600 or tighter. Missing is fine. */
export function assertPrivateFileIfExists(path: string): void {
  const stats = lstatOrNull(path);
  if (stats !== null) assertOwnerOnly(path, stats, 'file');
}
