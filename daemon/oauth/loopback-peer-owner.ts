/**
 * Who owns the other end of a loopback TCP connection (issue 13, items 1-3).
 *
 * The login's loopback listener must serve only the daemon's own user (and
 * root). Unlike a Unix socket, TCP has no SO_PEERCRED; but on Linux the
 * kernel lists every TCP socket with its owner in /proc/net/tcp and
 * /proc/net/tcp6, the way identd answers. The peer's socket is the row whose
 * *local* address is the peer's (address, port) and whose remote address is
 * our accepted end. A client on an IPv6 socket reaching 127.0.0.1 shows up in
 * tcp6 under the v4-mapped address ::ffff:127.0.0.1.
 *
 * Only a row with a non-zero inode counts: a socket no process holds any more
 * (closed, orphaned, TIME_WAIT) is listed with inode 0 and, on many kernels,
 * uid 0, which would otherwise read as "root". Anything we cannot establish
 * is `unknown`, and the caller refuses (fail closed).
 *
 * macOS and others have no /proc: the closest equivalent is the binary
 * `net.inet.tcp.pcblist_n` sysctl (xsocket_n.so_uid, what netstat reads),
 * which is not wired here and cannot be tested on this project's machines;
 * there the callback is protected by `state` alone (callbackPeerCheckMode).
 */
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';

export interface TcpEndpoint {
  /** Dotted IPv4 ('127.0.0.1') or IPv4-mapped IPv6 ('::ffff:127.0.0.1'). */
  address: string;
  port: number;
}

export type PeerOwner = { known: true; uid: number } | { known: false; reason: string };

export { callbackPeerCheckMode } from '../../shared/callback-peer-check.js';
export type { CallbackPeerCheckMode } from '../../shared/callback-peer-check.js';

/** The uids a loopback connection may come from: the daemon's own, and root. */
export function isAllowedPeerUid(uid: number, ownUid: number): boolean {
  return uid === ownUid || uid === 0;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** The four bytes of a dotted IPv4 address, or undefined. */
function ipv4Bytes(address: string): number[] | undefined {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  const parts = v4.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => Number.isInteger(b) && b <= 255) ? bytes : undefined;
}

/** The kernel prints each 32-bit word of an address as %08X in host byte order. */
function hexWords(bytes: number[], littleEndian: boolean): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const word = bytes.slice(i, i + 4);
    if (littleEndian) word.reverse();
    out += word.map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  return out.toUpperCase();
}

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * The "local_address rem_address" pair, as the kernel prints it, of the
 * peer's socket in /proc/net/tcp (`family: 4`) or, v4-mapped, in tcp6.
 * Undefined when an address is not IPv4 (the listener only binds 127.0.0.1).
 */
export function procRowKey(peer: TcpEndpoint, local: TcpEndpoint, family: 4 | 6, littleEndian = LITTLE_ENDIAN): string | undefined {
  const peerBytes = ipv4Bytes(peer.address);
  const localBytes = ipv4Bytes(local.address);
  if (peerBytes === undefined || localBytes === undefined) return undefined;
  const mapped = (b: number[]): number[] => (family === 6 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...b] : b);
  return `${hexWords(mapped(peerBytes), littleEndian)}:${hexPort(peer.port)} ${hexWords(mapped(localBytes), littleEndian)}:${hexPort(local.port)}`;
}

/**
 * Finds the row with this local/remote pair in the text of /proc/net/tcp or
 * tcp6 and reads its uid. Columns after the addresses: st, tx:rx, tr:when,
 * retrnsmt, uid, timeout, inode.
 */
export function ownerFromProcTable(table: string, key: string): PeerOwner | undefined {
  const at = table.indexOf(` ${key} `);
  if (at < 0) return undefined;
  const end = table.indexOf('\n', at);
  const fields = table.slice(at, end < 0 ? undefined : end).trim().split(/\s+/);
  // fields: local rem st tx:rx tr:when retrnsmt uid timeout inode ...
  const uidText = fields[6];
  const inodeText = fields[8];
  if (uidText === undefined || inodeText === undefined || !/^\d+$/.test(uidText) || !/^\d+$/.test(inodeText)) {
    return { known: false, reason: 'the kernel socket table has a row in an unexpected format' };
  }
  if (inodeText === '0') return { known: false, reason: 'the connecting socket is no longer held by any process' };
  return { known: true, uid: Number(uidText) };
}

export type ProcReader = (path: string) => Promise<string>;

const defaultReader: ProcReader = (path) => readFile(path, 'latin1');

/**
 * Resolves peer owners in batches: every lookup waits for a read of the two
 * tables that *started after* it was asked (so its connection is already in
 * them), and one read answers every lookup queued before it. A flood of
 * connections costs one table read per batch, not one per connection.
 */
export class PeerOwnerResolver {
  readonly #read: ProcReader;
  #queued: { peer: TcpEndpoint; local: TcpEndpoint; resolve: (owner: PeerOwner) => void }[] = [];
  #reading = false;

  constructor(read: ProcReader = defaultReader) {
    this.#read = read;
  }

  lookup(peer: TcpEndpoint, local: TcpEndpoint): Promise<PeerOwner> {
    return new Promise((resolve) => {
      this.#queued.push({ peer, local, resolve });
      if (!this.#reading) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#queued.length > 0) {
        const batch = this.#queued;
        this.#queued = [];
        let tables: [string, string] | undefined;
        let failure = '';
        try {
          tables = await Promise.all([this.#read('/proc/net/tcp'), this.#read('/proc/net/tcp6').catch(() => '')]);
        } catch (err) {
          failure = `cannot read /proc/net/tcp (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
        }
        for (const item of batch) item.resolve(tables === undefined ? { known: false, reason: failure } : findOwner(tables, item.peer, item.local));
      }
    } finally {
      this.#reading = false;
    }
  }
}

function findOwner([tcp, tcp6]: [string, string], peer: TcpEndpoint, local: TcpEndpoint): PeerOwner {
  const key4 = procRowKey(peer, local, 4);
  const key6 = procRowKey(peer, local, 6);
  if (key4 === undefined || key6 === undefined) return { known: false, reason: `not an IPv4 loopback connection (${peer.address})` };
  return ownerFromProcTable(tcp, key4) ?? ownerFromProcTable(tcp6, key6) ?? { known: false, reason: 'the connecting socket is not in the kernel socket table' };
}
