/**
 * The client's view of the owner-only paths the daemon insists on (state
 * directory, database, socket directory): the same rules the daemon enforces
 * at start-up, reported as a finding with its fix instead of an error, so
 * `mcpauthd doctor` can list every problem at once without loading daemon code.
 */
import { lstatSync, type Stats } from 'node:fs';

export type PathFinding =
  | { state: 'ok'; mode: string }
  | { state: 'missing' }
  | { state: 'problem'; problem: string; fix: string };

function modeOf(stats: Stats): string {
  return (stats.mode & 0o777).toString(8).padStart(4, '0');
}

export function checkPrivatePath(path: string, kind: 'directory' | 'file'): PathFinding {
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'problem', problem: `cannot inspect ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, fix: `check the permissions of its parent directories` };
  }
  if (stats.isSymbolicLink()) {
    return { state: 'problem', problem: `${path} is a symbolic link; mcpauthd will not follow it`, fix: `replace it with a real ${kind} (or point --home/--socket elsewhere)` };
  }
  if (kind === 'directory' ? !stats.isDirectory() : !stats.isFile()) {
    return { state: 'problem', problem: `${path} is not a ${kind === 'file' ? 'regular file' : 'directory'}`, fix: `move it out of the way` };
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && stats.uid !== uid) {
    return { state: 'problem', problem: `${path} belongs to uid ${stats.uid}, not to you (uid ${uid})`, fix: `remove it, or use another path (--home / --socket)` };
  }
  if ((stats.mode & 0o077) !== 0) {
    const wanted = kind === 'directory' ? '700' : '600';
    return {
      state: 'problem',
      problem: `${path} has mode ${modeOf(stats)}: group or others can reach it`,
      fix: `chmod ${wanted} ${JSON.stringify(path)} (and consider whether someone else read it)`,
    };
  }
  return { state: 'ok', mode: modeOf(stats) };
}
