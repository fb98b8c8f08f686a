/**
 * Another local user against a real daemon process: it can neither reach the
 * socket nor read the database, and when the socket directory is loosened by
 * mistake (0755, socket 0666), the peer-credential check still closes its
 * connection before reading a byte, and the daemon log says why.
 *
 * Needs root (to create the user and to run as it). Tests run as root here and
 * in CI; elsewhere the whole block is reported as skipped, with the reason in its name.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, statSync } from 'node:fs';
import { McpAuthdClient } from '../client/index.js';
import { directoryPermissionsOnly } from '../daemon/server/peer-check.js';
import { encodeFrame } from '../shared/protocol/framing.js';
import { startTestDaemon } from './helpers/in-process-daemon.js';
import { openRaw } from './helpers/raw-socket.js';
import { startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { ensurePeerUser, isRoot, runScript } from './helpers/peer-user.js';

// Skipped, not passed, where the reason holds: jest reports these as skipped.
const describeAsRoot = isRoot ? describe : describe.skip;
const hasPeerCredentialCall = process.platform === 'linux' || process.platform === 'darwin';
const itWithPeerCredentialCall = hasPeerCredentialCall ? it : it.skip;

interface PeerAttempt {
  connected?: boolean;
  /** A whole reply frame arrived. */
  replied?: boolean;
  /** The connect or read error code, e.g. EACCES. */
  error?: string;
  /** Bytes the daemon sent before the connection ended. */
  received?: string;
  closed?: boolean;
  timedOut?: boolean;
  readBytes?: number;
}

/** Runs a small script as the other user; it prints one JSON line describing what happened. */
const runAsPeer = (script: string, args: string[]): Promise<PeerAttempt> => runScript<PeerAttempt>(script, args, true);

// Connects, sends one status request, reports what came back. Plain CommonJS: runs with `node -e`.
const CONNECT_SCRIPT = `
const net = require('node:net');
const [path, frame] = process.argv.slice(1);
const done = (result) => { process.stdout.write(JSON.stringify(result) + '\\n'); process.exit(0); };
let received = '';
let connected = false;
const socket = net.connect(path);
socket.on('connect', () => { connected = true; socket.write(frame); });
socket.on('data', (d) => { received += d; if (received.includes('\\f')) done({ connected, replied: true, received }); });
// After connect, EPIPE or ECONNRESET is the daemon closing on us, like a plain close.
socket.on('error', (e) => done(connected ? { connected, closed: true, received } : { connected, error: e.code || e.message, received }));
socket.on('close', () => done({ connected, closed: true, received }));
setTimeout(() => done({ connected, timedOut: true, received }), 5000);
`;

const READ_SCRIPT = `
const fs = require('node:fs');
try { const b = fs.readFileSync(process.argv[1]); process.stdout.write(JSON.stringify({ readBytes: b.length }) + '\\n'); }
catch (e) { process.stdout.write(JSON.stringify({ error: e.code || e.message }) + '\\n'); }
`;

const STATUS_FRAME = encodeFrame('request', { v: 1, id: 1, method: 'status' });

describeAsRoot('a second local user (skipped unless root: needs to create and become a second user)', () => {
  let home: TempHome;
  let daemon: DaemonProcess | undefined;
  let peerUid = -1;

  beforeAll(async () => {
    peerUid = ensurePeerUser();
    home = makeTempHome();
    // mkdtemp made the root 0700, which alone would stop the other user; open it so
    // that only what the daemon creates itself (0700 directories, 0600 files) protects.
    chmodSync(home.root, 0o755);
    daemon = await startDaemonProcess(home.env);
    // A client of our own first, so the database and its WAL exist.
    const client = new McpAuthdClient({ socket: home.paths.socket });
    await client.status();
    client.close();
  });

  afterAll(async () => {
    await daemon?.stop();
    home.remove();
  });

  it('should not reach the socket: its directory is 0700', async () => {
    expect(statSync(home.paths.socketDir).mode & 0o777).toBe(0o700);
    const attempt = await runAsPeer(CONNECT_SCRIPT, [home.paths.socket, STATUS_FRAME]);
    expect(attempt).toEqual({ connected: false, error: 'EACCES', received: '' });
  });

  it('should not read the database, even with the state directory opened for traversal', async () => {
    expect(statSync(home.paths.home).mode & 0o777).toBe(0o700);
    expect(await runAsPeer(READ_SCRIPT, [home.paths.database])).toEqual({ error: 'EACCES' });
    // Second layer: the files themselves are 0600.
    for (const file of [home.paths.database, `${home.paths.database}-wal`]) expect(statSync(file).mode & 0o777).toBe(0o600);
    chmodSync(home.paths.home, 0o711);
    try {
      expect(await runAsPeer(READ_SCRIPT, [home.paths.database])).toEqual({ error: 'EACCES' });
      expect(await runAsPeer(READ_SCRIPT, [`${home.paths.database}-wal`])).toEqual({ error: 'EACCES' });
    } finally {
      chmodSync(home.paths.home, 0o700);
    }
  });

  itWithPeerCredentialCall('should be refused by the peer check when the socket directory is loosened, with the reason logged (skipped where no peer credential call exists: not Linux or macOS)', async () => {
    // The mistake the peer check exists for: someone opened the directory and the socket.
    chmodSync(home.paths.socketDir, 0o755);
    chmodSync(home.paths.socket, 0o666);
    const handled = () => (daemon!.stderr().match(/"method":"status"/g) ?? []).length;
    try {
      const before = handled();
      const attempt = await runAsPeer(CONNECT_SCRIPT, [home.paths.socket, STATUS_FRAME]);
      // The kernel let it connect; the daemon closed on it without a byte of reply.
      expect(attempt).toEqual({ connected: true, closed: true, received: '' });
      const deadline = Date.now() + 2000;
      while (!daemon!.stderr().includes('refused a connection') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const refusal = daemon!
        .stderr()
        .split('\n')
        .find((line) => line.includes('refused a connection: peer check failed'));
      expect(refusal).toBeDefined();
      expect(JSON.parse(refusal!)).toMatchObject({ level: 'warn', reason: `uid ${peerUid} is not the daemon's user (uid 0) or root`, peer_uid: peerUid });
      // Its frame never reached a handler.
      expect(handled()).toBe(before);
      // Our own user is still served through the same socket (a raw client: ours refuses a loose directory).
      const raw = await openRaw(home.paths.socket);
      raw.write(STATUS_FRAME);
      expect(await raw.nextFrame()).toMatchObject({ type: 'response', data: { id: 1, ok: true } });
      raw.close();
      const logged = Date.now() + 2000;
      while (handled() === before && Date.now() < logged) await new Promise((r) => setTimeout(r, 20));
      expect(handled()).toBe(before + 1);
    } finally {
      chmodSync(home.paths.socketDir, 0o700);
      chmodSync(home.paths.socket, 0o600);
    }
    const client = new McpAuthdClient({ socket: home.paths.socket });
    try {
      expect((await client.status()).daemon.pid).toBe(daemon!.pid);
    } finally {
      client.close();
    }
  });

  it('should be answered in that same state by a daemon without the peer check (the control: the check is what refused)', async () => {
    const unchecked = await startTestDaemon({ peerCheck: directoryPermissionsOnly('test: control run without a peer check') });
    try {
      chmodSync(unchecked.home.root, 0o755);
      chmodSync(unchecked.home.paths.socketDir, 0o755);
      chmodSync(unchecked.home.paths.socket, 0o666);
      const attempt = await runAsPeer(CONNECT_SCRIPT, [unchecked.home.paths.socket, STATUS_FRAME]);
      expect(attempt).toMatchObject({ connected: true, replied: true });
      expect(attempt.received).toContain('"ok":true');
      expect(unchecked.logs()).toContain('cannot check who connects; only the socket directory permissions protect the socket');
    } finally {
      await unchecked.stop();
    }
  });
});
