/**
 * Who is on the other end of a socket connection, checked before the first
 * byte of it is parsed (ssh-agent's `getpeereid` check after `accept`). Only
 * the daemon's own user and root may talk to it; everyone else is closed on
 * without a reply.
 *
 * Node has no API for the peer's uid, so the kernel is asked through koffi
 * (an FFI, prebuilt, no compiler): `getsockopt(SO_PEERCRED)` on Linux,
 * `getpeereid()` on macOS and the BSDs. koffi is imported here and nowhere
 * else, lazily, when the daemon starts: the client never loads it.
 *
 * Where neither is available (koffi missing or failing to load, another
 * platform or an architecture whose SO_PEERCRED constants we do not know), the
 * owner-only 0700 socket directory is the only gate. That is still a gate (the
 * kernel refuses to let another user reach the socket), but it is one layer
 * instead of two. On Linux and macOS, where the second layer always exists,
 * losing it is a broken install: the daemon refuses to start unless the user
 * says --allow-no-peer-check (assertPeerCheckAllowed). Elsewhere the mode is
 * reported (`status`, the start-up log line) rather than hidden. Once a mechanism is loaded, any failure to read a peer's
 * credentials refuses that connection: fail closed.
 */
import type { Socket } from 'node:net';
import { endianness } from 'node:os';

import { AuthdError } from '../../shared/errors.js';
import type { PeerCheckMode } from '../../shared/protocol/types.js';

export type { PeerCheckMode };

/** What the kernel says about the connecting process. */
export interface PeerCredentials {
  uid: number;
  /** Only SO_PEERCRED reports the pid. */
  pid?: number;
}

export type PeerVerdict =
  | { allowed: true; peer: PeerCredentials | undefined }
  | { allowed: false; reason: string; peer: PeerCredentials | undefined };

export interface PeerChecker {
  readonly mode: PeerCheckMode;
  /** Why the mode is directory-permissions-only; undefined otherwise. */
  readonly fallbackReason: string | undefined;
  /** Decides one freshly accepted connection; synchronous, so it runs before any data event. */
  check(socket: Socket): PeerVerdict;
}

/** Reads the peer's credentials from a connected socket's file descriptor; throws when it cannot. */
export type PeerCredentialReader = (fd: number) => PeerCredentials;

export interface PeerPolicy {
  /** The uid allowed besides root; default this process's effective uid. */
  ownUid?: number;
  /** Let root in, as ssh-agent does (root can read our files anyway). Default true. */
  allowRoot?: boolean;
}

/** The subset of koffi this module uses (kept structural so its `any`-typed API stays here). */
export interface KoffiLike {
  load(path: string | null): { func(definition: string): unknown };
  errno(): number;
}

export interface LoadPeerCheckerOptions extends PeerPolicy {
  /** Default process.platform / process.arch (tests pretend to be elsewhere). */
  platform?: NodeJS.Platform;
  arch?: string;
  /** Default: `import('koffi')`. Tests make it fail to prove the fallback. */
  loadKoffi?: () => Promise<KoffiLike>;
}

/**
 * `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)` constants by Linux architecture:
 * asm-generic for most, their own for MIPS and PowerPC. An architecture not
 * listed falls back rather than guess (a wrong constant reads some other option).
 */
const LINUX_PEERCRED: Record<string, { solSocket: number; soPeercred: number }> = {
  x64: { solSocket: 1, soPeercred: 17 },
  ia32: { solSocket: 1, soPeercred: 17 },
  arm: { solSocket: 1, soPeercred: 17 },
  arm64: { solSocket: 1, soPeercred: 17 },
  riscv64: { solSocket: 1, soPeercred: 17 },
  loong64: { solSocket: 1, soPeercred: 17 },
  s390x: { solSocket: 1, soPeercred: 17 },
  ppc64: { solSocket: 1, soPeercred: 21 },
  mips: { solSocket: 0xffff, soPeercred: 18 },
  mipsel: { solSocket: 0xffff, soPeercred: 18 },
  mips64el: { solSocket: 0xffff, soPeercred: 18 },
};
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit fields on every Linux. */
const UCRED_SIZE = 12;

const GETPEEREID_PLATFORMS: ReadonlySet<NodeJS.Platform> = new Set(['darwin', 'freebsd', 'openbsd']);

/** The connected socket's descriptor. Node keeps it on the libuv handle of a Unix-socket connection. */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** A checker that asks the kernel through `read` and applies the policy; fails closed. */
export function createPeerChecker(mode: 'peercred' | 'getpeereid', read: PeerCredentialReader, policy: PeerPolicy = {}): PeerChecker {
  const ownUid = policy.ownUid ?? process.geteuid?.() ?? -1;
  const allowRoot = policy.allowRoot ?? true;
  return {
    mode,
    fallbackReason: undefined,
    check(socket) {
      const fd = socketFd(socket);
      if (fd === undefined) return { allowed: false, reason: 'the connection has no file descriptor to ask the kernel about', peer: undefined };
      let peer: PeerCredentials;
      try {
        peer = read(fd);
      } catch (err) {
        return { allowed: false, reason: `cannot read the peer's credentials (${(err as Error).message})`, peer: undefined };
      }
      if (peer.uid === ownUid || (allowRoot && peer.uid === 0)) return { allowed: true, peer };
      return { allowed: false, reason: `uid ${peer.uid} is not the daemon's user (uid ${ownUid})${allowRoot ? ' or root' : ''}`, peer };
    },
  };
}

/** Platforms where the kernel can always be asked, so running without the check means something is broken. */
const PEER_CHECK_REQUIRED: ReadonlySet<NodeJS.Platform> = new Set(['linux', 'darwin']);

/**
 * Fail closed (issue 13 item 5): on Linux and macOS a checker that fell back
 * to directory permissions is refused unless the user explicitly allowed it.
 * @throws AuthdError PEER_CHECK_UNAVAILABLE, naming the reason and the flag.
 */
export function assertPeerCheckAllowed(checker: PeerChecker, options: { allowNoPeerCheck: boolean; platform?: NodeJS.Platform }): void {
  const platform = options.platform ?? process.platform;
  if (checker.mode !== 'directory-permissions-only' || options.allowNoPeerCheck || !PEER_CHECK_REQUIRED.has(platform)) return;
  throw new AuthdError(
    'PEER_CHECK_UNAVAILABLE',
    `cannot check who connects to the socket (${checker.fallbackReason ?? 'no reason given'}); refusing to start with only the socket directory permissions as protection. ` +
      'Reinstall mcpauthd so its koffi dependency loads, or, knowing that only the 0700 socket directory then keeps other users out, start it with --allow-no-peer-check',
  );
}

/** The fallback: every connection the kernel let through the 0700 directory is accepted. */
export function directoryPermissionsOnly(reason: string): PeerChecker {
  return {
    mode: 'directory-permissions-only',
    fallbackReason: reason,
    check: () => ({ allowed: true, peer: undefined }),
  };
}

function linuxPeercredReader(koffi: KoffiLike, constants: { solSocket: number; soPeercred: number }): PeerCredentialReader {
  // dlopen(NULL): the C library node itself is linked against, whatever its file name (glibc, musl).
  const libc = koffi.load(null);
  // The ucred goes into a plain buffer rather than a declared koffi struct: koffi's type
  // names are process-wide, and a second declaration (a second daemon in one process) fails.
  const getsockopt = libc.func('int getsockopt(int sockfd, int level, int optname, void *optval, _Inout_ uint32_t *optlen)') as (
    fd: number,
    level: number,
    option: number,
    out: Buffer,
    length: number[],
  ) => number;
  const little = endianness() === 'LE';
  return (fd) => {
    const ucred = Buffer.alloc(UCRED_SIZE);
    const length = [UCRED_SIZE];
    const rc = getsockopt(fd, constants.solSocket, constants.soPeercred, ucred, length);
    if (rc !== 0) throw new Error(`getsockopt(SO_PEERCRED) failed, errno ${koffi.errno()}`);
    if (length[0] !== UCRED_SIZE) throw new Error('getsockopt(SO_PEERCRED) returned an unexpected structure');
    // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, in this machine's byte order.
    return little ? { pid: ucred.readInt32LE(0), uid: ucred.readUInt32LE(4) } : { pid: ucred.readInt32BE(0), uid: ucred.readUInt32BE(4) };
  };
}

/** macOS <sys/un.h>: getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID) gives the peer's pid (issue 18, who is asking). */
const SOL_LOCAL = 0;
const LOCAL_PEERPID = 2;

function getpeereidReader(koffi: KoffiLike, platform: NodeJS.Platform): PeerCredentialReader {
  const libc = koffi.load(null);
  const getpeereid = libc.func('int getpeereid(int s, _Out_ uint32_t *euid, _Out_ uint32_t *egid)') as (fd: number, euid: number[], egid: number[]) => number;
  // The pid is a bonus for the audit trail, never part of the decision: untested here (Linux), and any failure leaves it unknown.
  const getsockopt =
    platform === 'darwin'
      ? (libc.func('int getsockopt(int sockfd, int level, int optname, _Out_ int32_t *optval, _Inout_ uint32_t *optlen)') as (fd: number, level: number, option: number, out: number[], length: number[]) => number)
      : undefined;
  return (fd) => {
    const euid = [-1];
    const egid = [-1];
    if (getpeereid(fd, euid, egid) !== 0) throw new Error(`getpeereid failed, errno ${koffi.errno()}`);
    const uid = euid[0];
    if (typeof uid !== 'number' || uid < 0) throw new Error('getpeereid returned no uid');
    const pid = [0];
    if (getsockopt !== undefined && getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, pid, [4]) === 0 && typeof pid[0] === 'number' && pid[0] > 0) return { uid, pid: pid[0] };
    return { uid };
  };
}

/** Loads koffi; the one import of it in the project (process-hardening.ts borrows it). */
export async function importKoffi(): Promise<KoffiLike> {
  const module = (await import('koffi')) as unknown as { default?: KoffiLike } & KoffiLike;
  return module.default ?? module;
}

/**
 * The best peer check this machine offers. Never throws: anything that keeps
 * the kernel from being asked yields `directory-permissions-only`, with the
 * reason, for the caller to log and report.
 */
export async function loadPeerChecker(options: LoadPeerCheckerOptions = {}): Promise<PeerChecker> {
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const policy: PeerPolicy = {};
  if (options.ownUid !== undefined) policy.ownUid = options.ownUid;
  if (options.allowRoot !== undefined) policy.allowRoot = options.allowRoot;

  const linux = platform === 'linux' ? LINUX_PEERCRED[arch] : undefined;
  if (platform === 'linux' && linux === undefined) return directoryPermissionsOnly(`SO_PEERCRED constants are not known for the ${arch} architecture`);
  if (platform !== 'linux' && !GETPEEREID_PLATFORMS.has(platform)) return directoryPermissionsOnly(`no peer credential call is known on ${platform}`);

  let koffi: KoffiLike;
  try {
    koffi = await (options.loadKoffi ?? importKoffi)();
  } catch (err) {
    return directoryPermissionsOnly(`the koffi FFI module could not be loaded (${(err as Error).message.split('\n')[0] ?? 'unknown error'})`);
  }
  try {
    return linux !== undefined
      ? createPeerChecker('peercred', linuxPeercredReader(koffi, linux), policy)
      : createPeerChecker('getpeereid', getpeereidReader(koffi, platform), policy);
  } catch (err) {
    return directoryPermissionsOnly(`the peer credential call could not be bound (${(err as Error).message.split('\n')[0] ?? 'unknown error'})`);
  }
}
