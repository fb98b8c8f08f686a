/**
 * Who holds a loopback port a fixed redirect URI needs (issue 16 item 2), so
 * that "port in use" names the process to stop. Linux only, from /proc: the
 * listening socket's row in /proc/net/tcp{,6} gives its inode and owner uid,
 * and a process whose /proc/<pid>/fd links to `socket:[inode]` holds it; it
 * is named by pid and /proc/<pid>/comm, never its arguments. Only
 * the user's own processes (and all, for root) can be looked into; anything
 * else is reported as not known, never guessed.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { AuthdError } from '../../shared/errors.js';
import type { FixedRedirect } from '../../shared/fixed-redirect.js';

export type PortHolder =
  | { known: true; pid: number; command: string }
  | { known: false; why: string };

const LISTEN = '0A';

/** The inodes and uids of sockets listening on `port` (any address), from one /proc/net/tcp* table. */
function listeners(table: string, port: number): { inode: string; uid: number }[] {
  const found: { inode: string; uid: number }[] = [];
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const local = cols[1] ?? '';
    const localPort = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (localPort === port && cols[3] === LISTEN && cols[9] !== '0') found.push({ inode: cols[9] as string, uid: Number(cols[7]) });
  }
  return found;
}

async function readOr(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** Finds the process listening on a TCP port. `procRoot` is for tests. */
export async function findPortHolder(port: number, procRoot = '/proc'): Promise<PortHolder> {
  if (process.platform !== 'linux') return { known: false, why: 'the process cannot be looked up on this platform' };
  const rows = [...listeners(await readOr(`${procRoot}/net/tcp`), port), ...listeners(await readOr(`${procRoot}/net/tcp6`), port)];
  if (rows.length === 0) return { known: false, why: 'no listening socket for it is visible in /proc/net/tcp' };
  const inodes = new Set(rows.map((row) => `socket:[${row.inode}]`));
  let pids: string[];
  try {
    pids = (await readdir(procRoot)).filter((name) => /^\d+$/.test(name));
  } catch {
    return { known: false, why: `${procRoot} cannot be read` };
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = await readlink(`${procRoot}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!inodes.has(target)) continue;
      // The program name only: its arguments may hold anything, secrets included.
      const command = (await readOr(`${procRoot}/${pid}/comm`)).trim().slice(0, 64);
      return { known: true, pid: Number(pid), command: command === '' ? '?' : command };
    }
  }
  const uid = rows[0]?.uid;
  return { known: false, why: uid === process.getuid?.() ? 'no process of yours shows it' : `it belongs to uid ${String(uid)}, whose processes cannot be looked into` };
}

/** The login error for a busy fixed redirect port, naming the holder when /proc tells. */
export async function portInUseError(redirect: FixedRedirect): Promise<AuthdError> {
  const holder = await findPortHolder(redirect.port);
  const who = holder.known ? `by pid ${holder.pid} (${holder.command})` : `(which process holds it is not known: ${holder.why})`;
  return new AuthdError(
    'OAUTH_FAILED',
    `port ${redirect.port} of the redirect URI ${redirect.uri} is already in use ${who}; stop that process, or log in with another redirect URI registered for the client`,
    { data: { reason: 'port_in_use', port: redirect.port, ...(holder.known ? { pid: holder.pid } : {}) } },
  );
}
