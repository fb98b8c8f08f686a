/**
 * What the kernel says about one process, by pid: its executable, its argv
 * (only to find an interpreter's script, never kept) and its parent. Linux
 * reads /proc; macOS asks libproc through koffi (proc_pidpath, proc_pidinfo),
 * which is written to the documented ABI but NOT tested on this Linux-only
 * machine. Elsewhere nothing is known and every process is `unknown`.
 *
 * A process that is gone before (or while) it is read is reported as gone:
 * /proc/<pid>/stat is read before and after the other files, and a changed
 * start time means the pid now belongs to someone else. Never guessed.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import type { KoffiLike } from './peer-check.js';

export interface RawProcess {
  pid: number;
  /** `live`: read completely; `gone`: exited (or its pid was reused) before it was read; `unreadable`: exists, but not ours to read. */
  state: 'live' | 'gone' | 'unreadable';
  /** Absolute path of the executable; null when unknown. */
  exe: string | null;
  /** argv; empty when unknown. Used to find a script, then dropped. */
  argv: string[];
  /** Working directory, to resolve a relative script path; null when unknown. */
  cwd: string | null;
  ppid: number | null;
  /** What tells this process from a later one with the same pid (Linux: start time in clock ticks); null when unknown. */
  identity: string | null;
}

export type ProcessReader = (pid: number) => RawProcess;

/** A cheap check that `pid` is still the process `identity` names (one read of /proc/<pid>/stat); undefined where there is none. */
export type IdentityReader = (pid: number) => string | null;

/** Linux: the start time from /proc/<pid>/stat; null when the process is gone. */
export function linuxIdentity(pid: number, procRoot = '/proc'): string | null {
  return readStat(`${procRoot}/${pid}`)?.startTime ?? null;
}

/** Linux: the files of /proc/<pid>, checked for pid reuse with the start time in stat. */
export function readLinuxProcess(pid: number, procRoot = '/proc'): RawProcess {
  const base = `${procRoot}/${pid}`;
  const before = readStat(base);
  if (before === undefined) return gone(pid);
  let exe: string | null = null;
  let argv: string[] = [];
  let cwd: string | null = null;
  let unreadable = false;
  try {
    exe = readlinkSync(`${base}/exe`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return gone(pid);
    unreadable = true;
  }
  try {
    argv = readFileSync(`${base}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
  } catch {
    argv = [];
  }
  // The working directory matters only for a relative script path.
  if (argv.slice(1).some((arg) => arg !== '' && !arg.startsWith('/') && !arg.startsWith('-'))) {
    try {
      cwd = readlinkSync(`${base}/cwd`);
    } catch {
      cwd = null;
    }
  }
  const after = readStat(base);
  // Exited meanwhile, or the pid was reused by another process: what was read may be someone else's.
  if (after === undefined || after.startTime !== before.startTime) return gone(pid);
  // A zombie has no exe and an empty cmdline: it is gone in every way that matters.
  if (after.state === 'Z') return gone(pid);
  return { pid, state: unreadable ? 'unreadable' : 'live', exe, argv, cwd, ppid: after.ppid, identity: after.startTime };
}

function gone(pid: number): RawProcess {
  return { pid, state: 'gone', exe: null, argv: [], cwd: null, ppid: null, identity: null };
}

/** `pid (comm) S ppid ... starttime`: comm may hold spaces and parentheses, so fields count from the last ')'. */
function readStat(base: string): { ppid: number; startTime: string; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`${base}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After comm: state(0) ppid(1) ... starttime is field 22 of the line, index 19 here.
  const ppid = Number(fields[1]);
  const startTime = fields[19];
  if (!Number.isInteger(ppid) || startTime === undefined) return undefined;
  return { ppid, startTime, state: fields[0] ?? '?' };
}

/** PROC_PIDPATHINFO_MAXSIZE and PROC_PIDTBSDINFO from <libproc.h> / <sys/proc_info.h>. */
const PROC_PIDPATH_MAX = 4096;
const PROC_PIDTBSDINFO = 3;
/** sizeof(struct proc_bsdinfo) on 64-bit macOS; pbi_ppid is the fifth uint32. */
const PROC_BSDINFO_SIZE = 136;
const PBI_PPID_OFFSET = 16;

/**
 * macOS: executable by proc_pidpath and parent by proc_pidinfo. The script of
 * an interpreter (argv, sysctl KERN_PROCARGS2) is not read: macOS callers are
 * named by their executable only. Untested here (Linux machine).
 */
export function macProcessReader(koffi: KoffiLike): ProcessReader {
  const lib = koffi.load('/usr/lib/libproc.dylib');
  const pidpath = lib.func('int proc_pidpath(int pid, void *buffer, uint32_t buffersize)') as (pid: number, out: Buffer, size: number) => number;
  const pidinfo = lib.func('int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize)') as (pid: number, flavor: number, arg: number, out: Buffer, size: number) => number;
  return (pid) => {
    const info = Buffer.alloc(PROC_BSDINFO_SIZE);
    if (pidinfo(pid, PROC_PIDTBSDINFO, 0, info, PROC_BSDINFO_SIZE) !== PROC_BSDINFO_SIZE) return gone(pid);
    const path = Buffer.alloc(PROC_PIDPATH_MAX);
    const length = pidpath(pid, path, PROC_PIDPATH_MAX);
    const exe = length > 0 ? path.subarray(0, length).toString('utf8') : null;
    return { pid, state: exe === null ? 'unreadable' : 'live', exe, argv: [], cwd: null, ppid: info.readUInt32LE(PBI_PPID_OFFSET), identity: null };
  };
}

/** Where no reader exists: every pid is unknown (not gone: we cannot tell). */
export function unknownProcessReader(): ProcessReader {
  return (pid) => ({ pid, state: 'unreadable', exe: null, argv: [], cwd: null, ppid: null, identity: null });
}

/** The reader for this platform; macOS needs koffi (already loaded by the peer check). */
export async function loadProcessReader(options: { platform?: NodeJS.Platform; loadKoffi?: () => Promise<KoffiLike> } = {}): Promise<{ read: ProcessReader; identity?: IdentityReader }> {
  const platform = options.platform ?? process.platform;
  if (platform === 'linux') return { read: (pid) => readLinuxProcess(pid), identity: (pid) => linuxIdentity(pid) };
  if (platform === 'darwin' && options.loadKoffi !== undefined) {
    try {
      return { read: macProcessReader(await options.loadKoffi()) };
    } catch {
      return { read: unknownProcessReader() };
    }
  }
  return { read: unknownProcessReader() };
}
