/**
 * The owner-only rule both sides check, the way ssh-agent and git's
 * credential-cache check their paths: a real directory or regular file (never
 * a symlink), owned by the current user, with no group or other permission
 * bits. The daemon refuses to start on a finding (daemon/private-path.ts),
 * the client refuses a planted socket (shared/socket-check.ts), `doctor`
 * lists every finding (client/private-path-check.ts); all three read the
 * words and the fix from here, so they cannot drift apart.
 */
import { lstatSync, type Stats } from 'node:fs';

export type OwnerOnlyKind = 'directory' | 'file';

export interface OwnerOnlyProblem {
  /** What is wrong, naming the path. */
  problem: string;
  /** The command or step that fixes it. */
  fix: string;
}

/** The current uid, or undefined where there is none (Windows). */
export function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * lstat that says null when nothing is there: no such entry (ENOENT), or a
 * parent that is not a directory (ENOTDIR), so the path cannot exist either.
 * Anything else (EACCES, ELOOP, …) is thrown: a path we cannot inspect is not
 * a missing one.
 */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/** The permission bits as four octal digits (`0700`). */
export function modeString(stats: Stats): string {
  return (stats.mode & 0o777).toString(8).padStart(4, '0');
}

/** The mode a private `kind` should have, as chmod takes it. */
export function wantedMode(kind: OwnerOnlyKind): string {
  return kind === 'directory' ? '700' : '600';
}

/**
 * Why `stats` (from lstat of `path`) is not a private `kind` of `uid`, or
 * null when it is one. A symlink is refused even to a good target: whoever
 * can change the link can change what we trust.
 */
export function ownerOnlyProblem(path: string, stats: Stats, kind: OwnerOnlyKind, uid: number | undefined = currentUid()): OwnerOnlyProblem | null {
  if (stats.isSymbolicLink()) {
    return { problem: `${path} is a symbolic link; mcpauthd will not follow it`, fix: `replace it with a real ${kind} (or point --home / --socket elsewhere)` };
  }
  if (kind === 'directory' ? !stats.isDirectory() : !stats.isFile()) {
    return { problem: `${path} is not a ${kind === 'file' ? 'regular file' : 'directory'}`, fix: 'move it out of the way' };
  }
  if (uid !== undefined && stats.uid !== uid) {
    return { problem: `${path} is owned by uid ${stats.uid}, not by you (uid ${uid})`, fix: 'remove it, or use another path (--home / --socket)' };
  }
  if ((stats.mode & 0o077) !== 0) {
    return {
      problem: `${path} has mode ${modeString(stats)}: group or others can reach it`,
      fix: `chmod ${wantedMode(kind)} ${JSON.stringify(path)} (and check whether someone else read it)`,
    };
  }
  return null;
}
