/**
 * The client connection against a scripted socket peer that answers when the
 * test says so: answers matched by id, each request's timeout (one timer per
 * connection, re-armed for the earliest deadline), and that an idle client
 * process can exit while one waiting for an answer cannot.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { getEventListeners, setMaxListeners } from 'node:events';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '../../client/connection.js';
import { AuthdError } from '../../shared/errors.js';
import { EVENT_RESPONSE } from '../../shared/protocol/types.js';
import { FrameError, FrameReader, MAX_FRAME_BYTES, encodeFrame } from '../../shared/protocol/framing.js';
import { REPO_ROOT } from '../helpers/daemon-process.js';

interface Held {
  id: number;
  method: string;
  params: Record<string, unknown>;
  socket: Socket;
}

/** A peer that hands every request to the test and answers only when told to. */
class ScriptedPeer {
  readonly held: Held[] = [];
  #waiters: (() => void)[] = [];
  readonly #sockets = new Set<Socket>();
  readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.setEncoding('utf8');
      const reader = new FrameReader();
      socket.on('data', (chunk: string) => {
        for (const frame of reader.push(chunk)) {
          const { id, method, params } = frame.data as { id: number; method: string; params: Record<string, unknown> };
          this.held.push({ id, method, params, socket });
        }
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  /** Resolves once `n` requests have arrived in all. */
  async received(n: number): Promise<Held[]> {
    while (this.held.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.held.slice(0, n);
  }

  static frame(request: Held, result: unknown): string {
    return encodeFrame(EVENT_RESPONSE, { v: 1, id: request.id, ok: true, result });
  }

  answer(request: Held, result: unknown): void {
    request.socket.write(ScriptedPeer.frame(request, result));
  }

  dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
    this.held.length = 0;
  }
}

/** A promise and whether it has settled yet, for asserting that something has not happened so far. */
function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: boolean } {
  const state = { promise, settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('Connection', () => {
  let dir: string;
  let socketPath: string;
  let peer: ScriptedPeer;
  const connections: Connection[] = [];
  const open = () => {
    const c = new Connection(socketPath);
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    // mkdtemp makes a 0700 directory of ours, which the client insists on.
    dir = mkdtempSync(join(tmpdir(), 'mcpauthd-conn-'));
    socketPath = join(dir, 's');
    peer = new ScriptedPeer();
    await new Promise<void>((resolve) => peer.server.listen(socketPath, resolve));
  });

  afterEach(() => {
    for (const c of connections.splice(0)) c.close();
    peer.dropConnections();
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => peer.server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  // Issue 14.1: the default socket has several candidates; a client finds the daemon on any of them.
  it('should connect to the first candidate socket something listens on, and name every path it tried when none', async () => {
    const missingA = join(dir, 'none-a', 's');
    const missingB = join(dir, 'none-b.sock');
    const c = new Connection([missingA, socketPath, missingB]);
    connections.push(c);
    const answered = c.request('status', { offset: 1 });
    peer.answer((await peer.received(1))[0]!, { found: true });
    expect(await answered).toEqual({ found: true });
    expect(c.socketPath).toBe(socketPath);

    const lost = new Connection([missingA, missingB]);
    connections.push(lost);
    const err = await rejection(lost.request('status', {}));
    expect((err as AuthdError).code).toBe('DAEMON_UNAVAILABLE');
    expect(err.message).toBe(`the mcpauthd daemon is not running (tried ${missingA}, ${missingB}); start it with: mcpauthd daemon`);
  });

  it('should match answers to requests by id, many in one chunk and in any order', async () => {
    const c = open();
    const results = Array.from({ length: 100 }, (_, i) => c.request('status', { offset: i }));
    const held = await peer.received(100);
    const socket = held[0]!.socket;
    socket.write([...held].reverse().map((r) => ScriptedPeer.frame(r, { offset: r.params['offset'] })).join(''));
    expect(await Promise.all(results)).toEqual(Array.from({ length: 100 }, (_, i) => ({ offset: i })));
  });

  it('should cancel on abort, refuse an aborted signal without sending, and leave no listener on a shared signal', async () => {
    const c = open();
    const shared = new AbortController();
    // 50 requests wait on it at once: more than Node's default of 10 before it warns.
    setMaxListeners(64, shared.signal);
    const answered = Array.from({ length: 50 }, (_, i) => c.request('status', { offset: i }, { signal: shared.signal }));
    const held = await peer.received(50);
    held[0]!.socket.write(held.map((r) => ScriptedPeer.frame(r, { ok: true })).join(''));
    await Promise.all(answered);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);

    const waiting = c.request('hello', { versions: [1] }, { signal: shared.signal });
    await peer.received(51);
    shared.abort();
    const err = await rejection(waiting);
    expect((err as AuthdError).code).toBe('timeout');
    expect(err.message).toBe('"hello" was cancelled');

    const early = await rejection(c.request('status', { offset: 99 }, { signal: shared.signal }));
    expect(early.message).toBe('"status" was cancelled');
    // Nothing was sent for it: the next frame the daemon sees is the next request.
    const next = c.request('status', { offset: 7 });
    const sent = (await peer.received(52))[51];
    expect(sent!.params).toEqual({ offset: 7 });
    sent!.socket.write(ScriptedPeer.frame(sent!, { ok: true }));
    await next;
  });

  // Deadlines on a fake clock (setTimeout and process.hrtime; socket I/O stays real):
  // each request fails exactly when its time is up, never a millisecond before, whatever the load.
  describe('timeouts, on a fake clock', () => {
    beforeEach(() => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    });
    afterEach(() => {
      jest.useRealTimers();
    });

    it('should fail a request that is not answered with DAEMON_TIMEOUT, never before its timeout', async () => {
      const c = open();
      const request = tracked(c.request('hello', { versions: [1] }, { timeoutMs: 80 }));
      await peer.received(1);
      await jest.advanceTimersByTimeAsync(79);
      expect(request.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      const err = await rejection(request.promise);
      expect(err).toBeInstanceOf(AuthdError);
      expect((err as AuthdError).code).toBe('DAEMON_TIMEOUT');
      expect(err.message).toBe('the daemon did not answer "hello" within 80 ms');
    });

    it('should time out each request at its own deadline, whatever order they were sent in; 0 means never', async () => {
      const c = open();
      const long = tracked(c.request('status', {}, { timeoutMs: 1_000 }));
      const short = tracked(c.request('hello', { versions: [1] }, { timeoutMs: 60 }));
      const never = tracked(c.request('status', { offset: 1 }, { timeoutMs: 0 }));
      await peer.received(3);

      await jest.advanceTimersByTimeAsync(59);
      expect([long.settled, short.settled, never.settled]).toEqual([false, false, false]);
      await jest.advanceTimersByTimeAsync(1); // at its own deadline, not the longer one's
      expect(await rejection(short.promise)).toMatchObject({ code: 'DAEMON_TIMEOUT', message: 'the daemon did not answer "hello" within 60 ms' });
      expect(long.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1_000 - 60 - 1);
      expect(long.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      expect(await rejection(long.promise)).toMatchObject({ code: 'DAEMON_TIMEOUT', message: 'the daemon did not answer "status" within 1000 ms' });

      // The one without a timeout is still waiting, even long after, and takes its answer.
      await jest.advanceTimersByTimeAsync(3_600_000);
      expect(never.settled).toBe(false);
      peer.answer(peer.held[2]!, { late: true });
      expect(await never.promise).toEqual({ late: true });
    });

    it("should not let an answered request's deadline fail a later request, nor miss an earlier one", async () => {
      const c = open();
      const first = c.request('status', {}, { timeoutMs: 50 });
      peer.answer((await peer.received(1))[0]!, 1);
      expect(await first).toBe(1);

      // Armed for the first request's deadline, the timer fires while this one still has time.
      const second = tracked(c.request('status', {}, { timeoutMs: 1_500 }));
      const secondHeld = (await peer.received(2))[1]!;
      await jest.advanceTimersByTimeAsync(150);
      expect(second.settled).toBe(false);
      peer.answer(secondHeld, 2);
      expect(await second.promise).toBe(2);

      // Now armed for the second's deadline (stale, more than a second away): a shorter one must re-arm it.
      const third = tracked(c.request('status', {}, { timeoutMs: 100 }));
      await peer.received(3);
      await jest.advanceTimersByTimeAsync(99);
      expect(third.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      expect((await rejection(third.promise)).message).toBe('the daemon did not answer "status" within 100 ms');
    });
  });

  it('should ignore an answer that comes after the timeout and stay usable', async () => {
    const c = open();
    const err = await rejection(c.request('status', {}, { timeoutMs: 30 }));
    expect((err as AuthdError).code).toBe('DAEMON_TIMEOUT');
    peer.answer((await peer.received(1))[0]!, 'too late');
    const next = c.request('status', {}, { timeoutMs: 2_000 });
    peer.answer((await peer.received(2))[1]!, 'on time');
    expect(await next).toBe('on time');
  });

  it('should refuse a request too large to frame without sending it, and stay usable', async () => {
    const c = open();
    const err = await rejection(c.request('login', { server_url: 'x'.repeat(MAX_FRAME_BYTES) }));
    expect(err).toBeInstanceOf(FrameError);
    expect((err as FrameError).code).toBe('frame_too_large');
    const next = c.request('status', {});
    const held = await peer.received(1);
    expect(held.map((h) => h.method)).toEqual(['status']);
    peer.answer(held[0]!, 'ok');
    expect(await next).toBe('ok');
  });

  // In a child process (the built client): only there can we see whether the process would exit.
  const runChild = (script: string): Promise<{ code: number | null; out: string; ms: number }> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(killer);
        resolve({ code, out, ms: performance.now() - started });
      });
    });
  const clientModule = JSON.stringify(join(REPO_ROOT, 'dist', 'client', 'connection.js'));

  it('should keep a client process alive while it waits for an answer, and let it exit once answered', async () => {
    // 'beforeExit' fires when nothing holds the event loop: while waiting that would be
    // the bug (the process would exit without its answer); the child then lingers
    // long enough to take the answer anyway, so the test sees the report, not a hang.
    const child = runChild(
      `const { Connection } = await import(${clientModule});
       let answered = false;
       process.on('beforeExit', () => { if (!answered) { console.log('nothing held the process while it waited'); setTimeout(() => undefined, 3000); } });
       const c = new Connection(${JSON.stringify(socketPath)});
       const result = await c.request('status', {}, { timeoutMs: 5000 });
       answered = true;
       console.log(JSON.stringify(result));
       // Nothing left to hold the process: not the 5 s timeout's timer.
       console.log(JSON.stringify(process.getActiveResourcesInfo().filter((r) => r === 'Timeout')));`,
    );
    const held = (await peer.received(1))[0]!;
    peer.answer(held, { answered: true });
    // It exits by itself: the connection is never closed, but the socket is unref'd.
    const result = await child;
    expect(result).toMatchObject({ code: 0, out: '{"answered":true}\n[]\n' });
  });

  it('should let a client process exit after a timeout, without waiting for the connection', async () => {
    const result = await runChild(
      `const { Connection } = await import(${clientModule});
       const c = new Connection(${JSON.stringify(socketPath)});
       const t0 = performance.now();
       await c.request('status', {}, { timeoutMs: 200 }).catch((err) => console.log(err.code, performance.now() - t0 >= 200));`,
    );
    expect(result).toMatchObject({ code: 0, out: 'DAEMON_TIMEOUT true\n' });
    expect(peer.held.map((h) => h.method)).toEqual(['status']);
  });

  // Issue 14.3: the proxy's and fetch wrapper's follower listens for credential.updated in the background.
  it('should let a process exit with a subscription listener that does not hold it, and hold it with one that does', async () => {
    const script = (holdProcess: boolean) =>
      `const { Connection } = await import(${clientModule});
       const c = new Connection(${JSON.stringify(socketPath)});
       c.onNotification(() => undefined, { holdProcess: ${holdProcess} });
       console.log(JSON.stringify(await c.request('subscribe', {}, { timeoutMs: 5000 })));
       setTimeout(() => { console.log('still alive'); process.exit(0); }, 1500).unref();`;
    const weak = runChild(script(false));
    peer.answer((await peer.received(1))[0]!, { subscribed: true });
    expect(await weak).toMatchObject({ code: 0, out: '{"subscribed":true}\n' });
    // A holding listener keeps the socket ref'd: the process lives until the (unref'd) timer ends it.
    const holding = runChild(script(true));
    peer.answer((await peer.received(2))[1]!, { subscribed: true });
    expect(await holding).toMatchObject({ code: 0, out: '{"subscribed":true}\nstill alive\n' });
  });
});
