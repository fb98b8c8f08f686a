/**
 * What a client checks before it connects, so a socket planted by another user
 * (who could then collect our login requests) is refused: the socket's
 * directory must be a real directory, ours, mode 0700 (shared/owner-only.ts);
 * the socket must be ours. The same rule decides whether /run/user/<uid> may
 * stand in for an unset XDG_RUNTIME_DIR (shared/paths.ts).
 */
import { dirname } from 'node:path';
import { currentUid, lstatOrNull, ownerOnlyProblem } from './owner-only.js';

/** null when `dir` is a real directory, owned by `uid`, mode 0700 (or tighter); otherwise why not (a missing one included). */
export function describePrivateDirProblem(dir: string, uid: number | undefined = currentUid()): string | null {
  const stats = lstatOrNull(dir);
  if (stats === null) return `${dir} does not exist`;
  const found = ownerOnlyProblem(dir, stats, 'directory', uid);
  return found === null ? null : `${found.problem} (fix: ${found.fix})`;
}

/** null when the socket may be used (or does not exist yet); otherwise why not. */
export function describeSocketProblem(socketPath: string): string | null {
  const dir = dirname(socketPath);
  if (lstatOrNull(dir) === null) return null;
  const dirProblem = describePrivateDirProblem(dir);
  if (dirProblem !== null) return `socket directory ${dirProblem}`;
  const uid = currentUid();
  const sockStats = lstatOrNull(socketPath);
  if (sockStats === null) return null;
  if (!sockStats.isSocket()) return `${socketPath} is not a socket`;
  if (uid !== undefined && sockStats.uid !== uid) return `socket ${socketPath} is owned by uid ${sockStats.uid}, not by you (uid ${uid})`;
  return null;
}
