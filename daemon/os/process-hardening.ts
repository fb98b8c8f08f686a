/**
 * No core dumps, whoever started us: the daemon's memory holds every token of
 * the user, and a crash under `ulimit -c unlimited` wrote them to a core file
 * (issue 13 item 4). As ssh-agent does at start, the daemon sets its
 * RLIMIT_CORE to 0 (soft and hard, so the process cannot raise it again
 * without privilege) and, on Linux, clears its dumpable flag (PR_SET_DUMPABLE 0), which
 * also stops same-user processes from attaching with ptrace and reading
 * /proc/<pid>/mem. Both are read back, and the result is reported (start-up
 * log, `status`, `doctor`) rather than assumed.
 *
 * Node has neither call, so they go through koffi, loaded by peer-check.ts
 * (the one module that imports it).
 */
import type { CoreDumpProtection } from '../../shared/protocol/types.js';
import type { KoffiLike } from '../server/peer-check.js';

export type { CoreDumpProtection };

/** RLIMIT_CORE is 4 on Linux, macOS and the BSDs. */
const RLIMIT_CORE = 4;
/** <linux/prctl.h> */
const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;
/** struct rlimit { rlim_t cur, max; }: rlim_t is 64-bit except on 32-bit Linux; 16 bytes hold either. */
const RLIMIT_BUFFER = 16;
const RLIM_T_BYTES: Readonly<Record<string, number>> = { ia32: 4, arm: 4, mips: 4, mipsel: 4 };

export interface HardenOptions {
  /** Default process.platform / process.arch. */
  platform?: NodeJS.Platform;
  arch?: string;
  /** The koffi loader (peer-check.ts importKoffi; tests make it fail). */
  loadKoffi: () => Promise<KoffiLike>;
}

const firstLine = (err: unknown): string => ((err as Error).message ?? String(err)).split('\n')[0] ?? 'unknown error';

/**
 * Turns core dumps off for this process and says what it verified. Never
 * throws: a platform without the calls gets `core_limit_zero: false` and the
 * reason, for the caller to warn about and `doctor` to report.
 */
export async function disableCoreDumps(options: HardenOptions): Promise<CoreDumpProtection> {
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const linux = platform === 'linux';
  if (!linux && platform !== 'darwin' && platform !== 'freebsd' && platform !== 'openbsd') {
    return { core_limit_zero: false, dumpable: null, reason: `no core-dump control is known on ${platform}` };
  }
  let libc: { func(definition: string): unknown };
  try {
    libc = (await options.loadKoffi()).load(null);
  } catch (err) {
    return { core_limit_zero: false, dumpable: null, reason: `the koffi FFI module could not be loaded (${firstLine(err)})` };
  }
  const problems: string[] = [];
  let coreLimitZero = false;
  try {
    const setrlimit = libc.func('int setrlimit(int resource, void *rlim)') as (resource: number, rlim: Buffer) => number;
    const getrlimit = libc.func('int getrlimit(int resource, _Inout_ void *rlim)') as (resource: number, rlim: Buffer) => number;
    if (setrlimit(RLIMIT_CORE, Buffer.alloc(RLIMIT_BUFFER)) !== 0) problems.push('setrlimit(RLIMIT_CORE, 0) failed');
    // Filled with ones first, so a call that writes nothing never reads as zero.
    const readBack = Buffer.alloc(RLIMIT_BUFFER, 0xff);
    const used = 2 * (RLIM_T_BYTES[arch] ?? 8);
    coreLimitZero = getrlimit(RLIMIT_CORE, readBack) === 0 && readBack.subarray(0, used).every((byte) => byte === 0);
    if (!coreLimitZero && problems.length === 0) problems.push('RLIMIT_CORE did not read back as 0');
  } catch (err) {
    problems.push(`the rlimit calls could not be bound (${firstLine(err)})`);
  }
  let dumpable: boolean | null = null;
  if (linux) {
    try {
      const prctl = libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)') as (
        option: number,
        ...args: number[]
      ) => number;
      if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) problems.push('prctl(PR_SET_DUMPABLE, 0) failed');
      const state = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
      dumpable = state !== 0;
      if (dumpable && problems.length === 0) problems.push(`PR_GET_DUMPABLE still answers ${state}`);
    } catch (err) {
      dumpable = true;
      problems.push(`prctl could not be bound (${firstLine(err)})`);
    }
  }
  return { core_limit_zero: coreLimitZero, dumpable, reason: problems.length === 0 ? null : problems.join('; ') };
}

/** True when a crash cannot write a core: the limit is 0 and, where the flag exists, the process is not dumpable. */
export function coreDumpsOff(protection: CoreDumpProtection): boolean {
  return protection.core_limit_zero && protection.dumpable !== true;
}
