/**
 * The owner of a loopback TCP peer, read from /proc/net/tcp{,6} (issue 13 items 1-3):
 * sample kernel lines for IPv4, IPv6 and v4-mapped peers, the rows that must not
 * count (TIME_WAIT / orphaned: inode 0), and one real connection on Linux.
 */
import net from 'node:net';
import { endianness } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import {
  callbackPeerCheckMode,
  isAllowedPeerUid,
  ownerFromProcTable,
  PeerOwnerResolver,
  procRowKey,
} from '../../daemon/oauth/loopback-peer-owner.js';

const HEADER4 = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const HEADER6 = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

// Our listener 127.0.0.1:41000 (0xA028); peers on ephemeral ports.
const LISTENER = { address: '127.0.0.1', port: 41000 };
const TCP = HEADER4 +
  // The listening socket and our accepted end (local = listener): never the peer's row.
  '   0: 0100007F:A028 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9001 1 0000000000000000 100 0 0 10 0\n' +
  '   1: 0100007F:A028 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 9002 1 0000000000000000 20 4 30 10 -1\n' +
  // Peer 127.0.0.1:54321 (0xD431) owned by uid 1001.
  '   2: 0100007F:D431 0100007F:A028 01 00000000:00000000 00:00000000 00000000  1001        0 9003 1 0000000000000000 20 4 30 10 -1\n' +
  // Peer 127.0.0.1:54322 in TIME_WAIT: uid 0, inode 0, must not read as root.
  '   3: 0100007F:D432 0100007F:A028 06 00000000:00000000 03:00000188 00000000     0        0 0 3 0000000000000000\n';
const TCP6 = HEADER6 +
  // A dual-stack client (AF_INET6 socket) reaching 127.0.0.1 from port 54323 (0xD433), owned by uid 0.
  '   0: 0000000000000000FFFF00000100007F:D433 0000000000000000FFFF00000100007F:A028 01 00000000:00000000 00:00000000 00000000     0        0 9004 1 0000000000000000 20 4 30 10 -1\n' +
  // A real IPv6 ::1 connection elsewhere, to show the table is not confused by it.
  '   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000  1002        0 9005 1 0000000000000000 20 4 30 10 -1\n';

describe('procRowKey', () => {
  it('prints IPv4 words in host byte order and ports in hex, peer first', () => {
    expect(procRowKey({ address: '127.0.0.1', port: 54321 }, LISTENER, 4, true)).toBe('0100007F:D431 0100007F:A028');
    expect(procRowKey({ address: '127.0.0.1', port: 54321 }, LISTENER, 4, false)).toBe('7F000001:D431 7F000001:A028');
  });

  it('gives the v4-mapped form for tcp6, also from an already mapped address', () => {
    const key = '0000000000000000FFFF00000100007F:D433 0000000000000000FFFF00000100007F:A028';
    expect(procRowKey({ address: '127.0.0.1', port: 54323 }, LISTENER, 6, true)).toBe(key);
    expect(procRowKey({ address: '::ffff:127.0.0.1', port: 54323 }, LISTENER, 6, true)).toBe(key);
    expect(procRowKey({ address: '127.0.0.1', port: 54323 }, LISTENER, 6, false)).toBe('00000000000000000000FFFF7F000001:D433 00000000000000000000FFFF7F000001:A028');
  });

  it('has no key for a peer that is not IPv4 (the listener binds 127.0.0.1 only)', () => {
    expect(procRowKey({ address: '::1', port: 1 }, LISTENER, 4, true)).toBeUndefined();
    expect(procRowKey({ address: '127.0.0.300', port: 1 }, LISTENER, 6, true)).toBeUndefined();
  });
});

describe('ownerFromProcTable', () => {
  const key = (port: number, family: 4 | 6): string => procRowKey({ address: '127.0.0.1', port }, LISTENER, family, true) ?? '';

  it('IPv4: reads the uid of the row whose local address is the peer', () => {
    expect(ownerFromProcTable(TCP, key(54321, 4))).toEqual({ known: true, uid: 1001 });
  });

  it('v4-mapped IPv6: reads the uid from tcp6', () => {
    expect(ownerFromProcTable(TCP6, key(54323, 6))).toEqual({ known: true, uid: 0 });
    expect(ownerFromProcTable(TCP, key(54323, 4))).toBeUndefined();
  });

  it('a row no process holds (inode 0: TIME_WAIT, orphaned) is unknown, not root', () => {
    expect(ownerFromProcTable(TCP, key(54322, 4))).toEqual({ known: false, reason: 'the connecting socket is no longer held by any process' });
  });

  it('a peer not in the table is absent; a garbled row is unknown', () => {
    expect(ownerFromProcTable(TCP, key(60000, 4))).toBeUndefined();
    expect(ownerFromProcTable(`${HEADER4}   0: ${key(54321, 4)} 01 x\n`, key(54321, 4))).toMatchObject({ known: false });
  });
});

describe('PeerOwnerResolver', () => {
  // The samples are what a little-endian kernel prints.
  const littleEndian = endianness() === 'LE' ? it : it.skip;
  littleEndian('answers a batch of lookups from one read of each table', async () => {
    const reads: string[] = [];
    const resolver = new PeerOwnerResolver(async (path) => {
      reads.push(path);
      return path.endsWith('6') ? TCP6 : TCP;
    });
    const owners = await Promise.all([54321, 54322, 54323, 60000].map((port) => resolver.lookup({ address: '127.0.0.1', port }, LISTENER)));
    expect(owners).toEqual([
      { known: true, uid: 1001 },
      { known: false, reason: 'the connecting socket is no longer held by any process' },
      { known: true, uid: 0 },
      { known: false, reason: 'the connecting socket is not in the kernel socket table' },
    ]);
    // One read (of both tables) for the first lookup, one for the three queued while it ran.
    expect(reads).toEqual(['/proc/net/tcp', '/proc/net/tcp6', '/proc/net/tcp', '/proc/net/tcp6']);
  });

  it('fails closed when /proc/net/tcp cannot be read', async () => {
    const resolver = new PeerOwnerResolver(async () => {
      throw Object.assign(new Error('no proc'), { code: 'ENOENT' });
    });
    expect(await resolver.lookup({ address: '127.0.0.1', port: 1 }, LISTENER)).toEqual({ known: false, reason: 'cannot read /proc/net/tcp (ENOENT)' });
  });

  it('only the own uid and root are allowed', () => {
    expect(isAllowedPeerUid(1000, 1000)).toBe(true);
    expect(isAllowedPeerUid(0, 1000)).toBe(true);
    expect(isAllowedPeerUid(1001, 1000)).toBe(false);
    expect(callbackPeerCheckMode('linux')).toBe('proc_net_tcp');
    expect(callbackPeerCheckMode('darwin')).toBe('state_only');
  });

  const onLinux = process.platform === 'linux' ? it : it.skip;
  onLinux('finds the owner of a real loopback connection (this process) on Linux', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const socket = await accepted;
    try {
      const owner = await new PeerOwnerResolver().lookup(
        { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
        { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      );
      expect(owner).toEqual({ known: true, uid: process.getuid?.() });
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  });
});
