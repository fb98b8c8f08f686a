// The caller check (ssh-agent's getpeereid after accept): the kernel's word on
// who connected, asked through koffi before any frame is parsed, and an honest
// fallback where it cannot be asked. The check against a real second user is in
// test/second-user.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { McpAuthdClient } from '../../client/index.js';
import { createPeerChecker, directoryPermissionsOnly, loadPeerChecker, socketFd, type PeerChecker } from '../../daemon/server/peer-check.js';
import { encodeFrame } from '../../shared/protocol/framing.js';
import { REPO_ROOT } from '../helpers/daemon-process.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { openRaw } from '../helpers/raw-socket.js';
import { makeTempHome, type TempHome } from '../helpers/temp-home.js';

/** One accepted server-side socket for a fresh client connection. */
async function acceptedSocket(server: Server, path: string): Promise<{ accepted: Socket; client: Socket }> {
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(path);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { accepted: await accepted, client };
}

describe('peer-check', () => {
  let home: TempHome;
  let server: Server;
  let path: string;

  beforeAll(async () => {
    home = makeTempHome();
    path = join(home.root, 'probe.sock');
    server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    home.remove();
  });

  (process.platform === 'linux' ? it : it.skip)('should ask the kernel through SO_PEERCRED on Linux and see this very process (skipped off Linux)', async () => {
    const checker = await loadPeerChecker();
    expect(checker.mode).toBe('peercred');
    expect(checker.fallbackReason).toBeUndefined();
    const { accepted, client } = await acceptedSocket(server, path);
    try {
      expect(socketFd(accepted)).toEqual(expect.any(Number));
      expect(checker.check(accepted)).toEqual({ allowed: true, peer: { uid: process.geteuid?.(), pid: process.pid } });
    } finally {
      client.destroy();
      accepted.destroy();
    }
  });

  it('should refuse a peer that is neither the daemon user nor (when allowed) root, naming the uid', async () => {
    const strict = await loadPeerChecker({ ownUid: 4242, allowRoot: false });
    const rootAllowed = await loadPeerChecker({ ownUid: 4242 });
    const { accepted, client } = await acceptedSocket(server, path);
    try {
      const me = process.geteuid?.() ?? -1;
      const verdict = strict.check(accepted);
      expect(verdict).toMatchObject({ allowed: false, peer: { uid: me } });
      expect(verdict.allowed ? '' : verdict.reason).toBe(`uid ${me} is not the daemon's user (uid 4242)`);
      // Root is let in unless told otherwise, as ssh-agent does.
      expect(rootAllowed.check(accepted).allowed).toBe(me === 0);
    } finally {
      client.destroy();
      accepted.destroy();
    }
  });

  it('should fail closed when the credentials cannot be read or the socket has no descriptor', async () => {
    const broken = createPeerChecker('peercred', () => {
      throw new Error('getsockopt(SO_PEERCRED) failed, errno 9');
    });
    const { accepted, client } = await acceptedSocket(server, path);
    try {
      expect(broken.check(accepted)).toEqual({ allowed: false, reason: "cannot read the peer's credentials (getsockopt(SO_PEERCRED) failed, errno 9)", peer: undefined });
    } finally {
      client.destroy();
      accepted.destroy();
    }
    const ok = createPeerChecker('peercred', () => ({ uid: 0 }));
    const detached = { _handle: null } as unknown as Socket;
    expect(ok.check(detached)).toMatchObject({ allowed: false, reason: 'the connection has no file descriptor to ask the kernel about' });
  });

  it('should fall back to directory permissions, and say why, where the kernel cannot be asked', async () => {
    const noKoffi = await loadPeerChecker({
      loadKoffi: () => Promise.reject(new Error("Cannot find package 'koffi'\nmore detail")),
    });
    expect(noKoffi.mode).toBe('directory-permissions-only');
    expect(noKoffi.fallbackReason).toBe("the koffi FFI module could not be loaded (Cannot find package 'koffi')");

    const unbindable = await loadPeerChecker({
      platform: 'linux',
      arch: 'x64',
      loadKoffi: async () => ({
        load: () => {
          throw new Error('dlopen failed');
        },
        errno: () => 0,
      }),
    });
    expect(unbindable).toMatchObject({ mode: 'directory-permissions-only', fallbackReason: 'the peer credential call could not be bound (dlopen failed)' });

    expect((await loadPeerChecker({ platform: 'win32' })).fallbackReason).toBe('no peer credential call is known on win32');
    expect((await loadPeerChecker({ platform: 'linux', arch: 'sparc64' })).fallbackReason).toBe('SO_PEERCRED constants are not known for the sparc64 architecture');
    // The fallback lets through whatever the 0700 directory let through.
    expect(directoryPermissionsOnly('x').check({} as Socket)).toEqual({ allowed: true, peer: undefined });
  });

  it('should keep koffi out of the client and shared code, and load it only lazily in peer-check.ts', () => {
    const importers: string[] = [];
    for (const dir of ['client', 'shared', 'daemon']) {
      for (const file of readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })) {
        if (!file.endsWith('.ts')) continue;
        const text = readFileSync(join(REPO_ROOT, dir, file), 'utf8');
        if (/from\s+['"]koffi['"]|import\(\s*['"]koffi['"]\s*\)|require\(\s*['"]koffi['"]\s*\)/.test(text)) importers.push(join(dir, file));
        if (/^import[^;]*from\s+['"]koffi['"]/m.test(text)) importers.push(`${join(dir, file)} (static import)`);
      }
    }
    expect(importers).toEqual([join('daemon', 'server', 'peer-check.ts')]);
  });
});

// Decided before the tests are declared, so that a machine without a peer credential call reports the refusal test as skipped.
const kernelCanBeAsked = (await loadPeerChecker()).mode !== 'directory-permissions-only';

describe('peer check in the socket server', () => {
  let refusing: TestDaemon;
  let normal: TestDaemon;

  beforeAll(async () => {
    // A policy under which this test process is a stranger: the daemon belongs to uid 4242 and root is not let in.
    const stranger: PeerChecker = await loadPeerChecker({ ownUid: 4242, allowRoot: false });
    refusing = await startTestDaemon({ peerCheck: stranger });
    normal = await startTestDaemon();
  });
  afterAll(async () => {
    await refusing.stop();
    await normal.stop();
  });

  (kernelCanBeAsked ? it : it.skip)('should close a refused connection without a reply or parsing its frame, and log why (skipped where no peer credential call exists)', async () => {
    expect(refusing.daemon.info.peer_check).not.toBe('directory-permissions-only');
    const raw = await openRaw(refusing.home.paths.socket);
    raw.write(encodeFrame('request', { v: 1, id: 1, method: 'status' }));
    await raw.closed;
    await expect(raw.nextFrame()).rejects.toThrow('connection closed');
    expect(refusing.daemon.server.connectionCount).toBe(0);
    const logs = refusing.logs();
    expect(logs).toContain('"message":"refused a connection: peer check failed"');
    expect(logs).toContain(`"reason":"uid ${process.geteuid?.()} is not the daemon's user (uid 4242)"`);
    expect(logs).toContain(`"peer_pid":${process.pid}`);
    // The request never reached a handler.
    expect(logs).not.toContain('"method":"status"');
  });

  it('should serve its own user, and report the mode it uses', async () => {
    expect(normal.daemon.info.peer_check).toBe(process.platform === 'linux' ? 'peercred' : expect.any(String));
    expect(normal.logs()).toContain(`"peer_check":"${normal.daemon.info.peer_check}"`);
    const client = new McpAuthdClient({ socket: normal.home.paths.socket });
    try {
      expect((await client.status()).daemon.pid).toBe(process.pid);
    } finally {
      client.close();
    }
  });
});
