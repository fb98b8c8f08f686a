/**
 * What a client checks before it connects, so a socket planted by another user
 * (who could then collect our login requests) is refused: the socket's
 * directory must be a real directory, ours, mode 0700; the socket must be ours.
 */
import { lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** null when the socket may be used (or does not exist yet); otherwise why not. */
export function describeSocketProblem(socketPath: string): string | null {
  const dir = dirname(socketPath);
  const dirStats = lstatOrNull(dir);
  if (dirStats === null) return null;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (dirStats.isSymbolicLink() || !dirStats.isDirectory()) return `socket directory ${dir} is not a real directory`;
  if (uid !== undefined && dirStats.uid !== uid) return `socket directory ${dir} is owned by uid ${dirStats.uid}, not by you (uid ${uid})`;
  if ((dirStats.mode & 0o077) !== 0) {
    return `socket directory ${dir} has mode ${(dirStats.mode & 0o777).toString(8).padStart(4, '0')}; it must be 0700 (chmod 700 ${JSON.stringify(dir)})`;
  }
  const sockStats = lstatOrNull(socketPath);
  if (sockStats === null) return null;
  if (!sockStats.isSocket()) return `${socketPath} is not a socket`;
  if (uid !== undefined && sockStats.uid !== uid) return `socket ${socketPath} is owned by uid ${sockStats.uid}, not by you (uid ${uid})`;
  return null;
}
