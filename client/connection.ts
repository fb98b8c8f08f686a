/**
 * The client side of the socket: one connection, many requests matched by id,
 * a timeout on each. It speaks node-ipc's framing (shared/protocol/framing.ts) over
 * node:net directly: that keeps `mcpauthd token` free of node-ipc's start-up
 * cost and reconnect machinery, and proves the protocol document is enough to
 * write a client.
 */
import { connect, type Socket } from 'node:net';
import { AuthdError } from '../shared/errors.js';
import {
  EVENT_NOTIFY,
  EVENT_RESPONSE,
  WIRE_ERROR_CODES,
  type MethodName,
  type Methods,
  type Notification,
  type WireErrorCode,
} from '../shared/protocol/types.js';
import { FrameReader, encodeRequestFrame, isPlainObject } from '../shared/protocol/framing.js';
import { describeSocketProblem } from '../shared/socket-check.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const CONNECT_TIMEOUT_MS = 3_000;
export const START_COMMAND = 'mcpauthd daemon';
/**
 * Milliseconds on a clock that never goes back (process.hrtime). Not
 * performance.now(): the global `performance` loads perf_hooks on first use,
 * about 0.8 ms of every `mcpauthd token` (docs/benchmarks.md).
 */
function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}

/** The longest delay setTimeout honours (2^31 - 1 ms). */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

export interface RequestOptions {
  /** 0 disables the timeout (a login waits for a person). */
  timeoutMs?: number;
  /** Events the daemon sends about this request (login progress). */
  onEvent?: (notification: Notification) => void;
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onEvent: ((n: Notification) => void) | undefined;
  /** monotonicMs() after which the request fails with DAEMON_TIMEOUT; Infinity for none. */
  deadline: number;
  method: MethodName;
  timeoutMs: number;
  /** Removes the abort listener, so a long-lived signal shared by many requests does not collect one per request. */
  detach: (() => void) | undefined;
}

/** Connects to `path`; rejects with the system error (its `code`) or a connect timeout. */
function openSocket(path: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AuthdError('DAEMON_UNAVAILABLE', `the daemon at ${path} did not accept the connection within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export class Connection {
  /** Where the daemon is looked for, in order (shared/paths.ts: Paths.socketCandidates). */
  readonly socketCandidates: readonly string[];
  #connectedPath: string | undefined;
  readonly #disconnectListeners = new Set<() => void>();
  #socket: Socket | undefined;
  /** #socket was unref'd by #settle and needs a ref() before the next request. */
  #socketUnrefd = false;
  #connecting: Promise<Socket> | undefined;
  #reader = new FrameReader();
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(n: Notification) => void>();
  /** Listeners that keep the process alive (see onNotification). */
  #holdingListeners = 0;
  /**
   * One timer for every request's timeout, armed for the earliest deadline
   * (#timerDue) and never cleared when a request is answered: when it fires,
   * #sweep fails what is due and re-arms for the next deadline. A timer per
   * request was a setTimeout and a clearTimeout on every request, which a
   * closed-loop client (scripts/bench/load-client.ts) pays for in full; this
   * one fires about once per timeout period. It is unref'd: while a request is
   * pending the socket holds the process, as before.
   */
  #timer: NodeJS.Timeout | undefined;
  #timerDue = Infinity;

  constructor(socket: string | readonly string[]) {
    const candidates = typeof socket === 'string' ? [socket] : [...socket];
    if (candidates.length === 0) throw new AuthdError('USAGE', 'no socket path to connect to');
    this.socketCandidates = candidates;
  }

  /** The socket connected to last, else the first candidate (where the daemon would listen). */
  get socketPath(): string {
    return this.#connectedPath ?? (this.socketCandidates[0] as string);
  }

  /** Called each time an established connection to the daemon ends (daemon stopped or restarting). */
  onDisconnect(listener: () => void): () => void {
    this.#disconnectListeners.add(listener);
    return () => this.#disconnectListeners.delete(listener);
  }

  /**
   * Events not tied to a request (credential.updated after a subscribe). The
   * connection keeps the process alive while such a listener is attached,
   * unless `holdProcess` is false (a library's background follower must not
   * keep its user's process from exiting).
   */
  onNotification(listener: (n: Notification) => void, options: { holdProcess?: boolean } = {}): () => void {
    this.#listeners.add(listener);
    const holds = options.holdProcess !== false;
    if (holds) this.#holdingListeners++;
    return () => {
      if (!this.#listeners.delete(listener)) return;
      if (holds) this.#holdingListeners--;
    };
  }

  request<M extends MethodName>(method: M, params: Methods[M]['params'], options: RequestOptions = {}): Promise<Methods[M]['result']> {
    // Already connected (every request but the first): send now rather than a
    // few microtasks later behind an already-resolved connect promise.
    const socket = this.#socket;
    if (socket !== undefined && !socket.destroyed) return this.#send(socket, method, params, options);
    return this.#connect().then((connected) => this.#send(connected, method, params, options));
  }

  #send<M extends MethodName>(socket: Socket, method: M, params: Methods[M]['params'], options: RequestOptions): Promise<Methods[M]['result']> {
    return new Promise<Methods[M]['result']>((resolve, reject) => {
      const signal = options.signal;
      const cancelled = () => new AuthdError('timeout', `"${method}" was cancelled`);
      // Already cancelled: nothing is sent, as if it had been cancelled a moment later.
      if (signal?.aborted === true) {
        reject(cancelled());
        return;
      }
      const id = this.#nextId++;
      const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      const deadline = timeoutMs > 0 ? monotonicMs() + timeoutMs : Infinity;
      let detach: (() => void) | undefined;
      if (signal !== undefined) {
        const onAbort = () => this.#fail(id, cancelled());
        signal.addEventListener('abort', onAbort, { once: true });
        detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent: options.onEvent, deadline, method, timeoutMs, detach });
      if (deadline < this.#timerDue) this.#armTimer(deadline);
      if (this.#socketUnrefd) {
        socket.ref();
        this.#socketUnrefd = false;
      }
      try {
        socket.write(encodeRequestFrame(id, method, params));
      } catch (err) {
        this.#fail(id, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#rejectAll(new AuthdError('DAEMON_UNAVAILABLE', 'connection closed'));
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  #connect(): Promise<Socket> {
    if (this.#socket !== undefined && !this.#socket.destroyed) return Promise.resolve(this.#socket);
    this.#connecting ??= this.#connectFirst().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /**
   * Tries each candidate in order and keeps the first that accepts. A
   * candidate that fails the ownership checks stops the search (fail closed:
   * someone else's socket is never stepped over silently).
   */
  async #connectFirst(): Promise<Socket> {
    const tried: string[] = [];
    for (const path of this.socketCandidates) {
      const problem = describeSocketProblem(path);
      if (problem !== null) throw new AuthdError('INSECURE_SOCKET', `refusing to talk to ${path}: ${problem}`);
      tried.push(path);
      let socket: Socket;
      try {
        socket = await openSocket(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ECONNREFUSED') continue;
        if (err instanceof AuthdError) throw err;
        throw new AuthdError('DAEMON_UNAVAILABLE', `cannot reach the daemon at ${path}: ${code ?? (err as Error).message}`, { cause: err });
      }
      this.#adopt(socket, path);
      return socket;
    }
    const where = tried.length === 1 ? `nothing listens on ${tried[0]}` : `tried ${tried.join(', ')}`;
    throw new AuthdError('DAEMON_UNAVAILABLE', `the mcpauthd daemon is not running (${where}); start it with: ${START_COMMAND}`);
  }

  #adopt(socket: Socket, path: string): void {
    this.#socket = socket;
    this.#connectedPath = path;
    this.#socketUnrefd = false;
    this.#reader = new FrameReader();
    socket.setEncoding('utf8');
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#rejectAll(new AuthdError('DAEMON_UNAVAILABLE', `lost the daemon at ${path}: ${err.code ?? err.message}`, { cause: err }));
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      this.#rejectAll(new AuthdError('DAEMON_UNAVAILABLE', 'the daemon closed the connection'));
      for (const listener of this.#disconnectListeners) listener();
    });
    socket.on('data', (chunk: string) => this.#onData(chunk, socket));
  }

  #onData(chunk: string, socket: Socket): void {
    let frames;
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      socket.destroy();
      this.#rejectAll(new AuthdError('PROTOCOL_ERROR', `the daemon sent a bad frame: ${(err as Error).message}`));
      return;
    }
    for (const frame of frames) {
      if (!isPlainObject(frame.data)) continue;
      if (frame.type === EVENT_RESPONSE) this.#onResponse(frame.data);
      else if (frame.type === EVENT_NOTIFY) this.#onNotify(frame.data as unknown as Notification);
    }
  }

  #onResponse(data: Record<string, unknown>): void {
    const id = data['id'];
    if (typeof id !== 'number') return;
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#settle(id);
    if (data['ok'] === true) {
      pending.resolve(data['result']);
      return;
    }
    const error = isPlainObject(data['error']) ? data['error'] : {};
    const code = typeof error['code'] === 'string' && WIRE_ERROR_CODES.has(error['code']) ? (error['code'] as WireErrorCode) : 'internal';
    const message = typeof error['message'] === 'string' ? error['message'] : 'the daemon reported an error';
    const extra = isPlainObject(error['data']) ? error['data'] : undefined;
    pending.reject(new AuthdError(code, message, extra === undefined ? undefined : { data: extra }));
  }

  #onNotify(n: Notification): void {
    // Progress of a request still in flight goes to that request; everything
    // else (subscription events, which name the finished subscribe request) to listeners.
    const pending = typeof n.request_id === 'number' ? this.#pending.get(n.request_id) : undefined;
    if (pending !== undefined) {
      pending.onEvent?.(n);
      return;
    }
    for (const listener of this.#listeners) listener(n);
  }

  #fail(id: number, err: Error): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#settle(id);
    pending.reject(err);
  }

  #settle(id: number): void {
    this.#pending.get(id)?.detach?.();
    this.#pending.delete(id);
    // Let a library user's process exit while nothing is in flight.
    if (this.#pending.size === 0 && this.#holdingListeners === 0 && this.#socket !== undefined) {
      this.#socket.unref();
      this.#socketUnrefd = true;
    }
  }

  #armTimer(due: number): void {
    clearTimeout(this.#timer);
    this.#timerDue = due;
    // Whole milliseconds, as setTimeout counts them; capped at setTimeout's
    // maximum (beyond it Node fires after 1 ms), the sweep re-arming for the rest.
    const delay = Math.min(Math.max(1, Math.ceil(due - monotonicMs())), MAX_TIMER_DELAY_MS);
    this.#timer = setTimeout(() => this.#sweep(), delay);
    this.#timer.unref();
  }

  /** Fails every request past its deadline, then waits for the next deadline. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    // A timer can fire a little before monotonicMs() reaches its due time
    // (it counts from the event loop's cached clock); such a request is left
    // for the re-armed timer, so none ever fails before its timeoutMs.
    const now = monotonicMs();
    let next = Infinity;
    for (const [id, pending] of this.#pending) {
      if (pending.deadline <= now) {
        this.#fail(id, new AuthdError('DAEMON_TIMEOUT', `the daemon did not answer "${pending.method}" within ${pending.timeoutMs} ms`));
      } else if (pending.deadline < next) {
        next = pending.deadline;
      }
    }
    if (next !== Infinity) this.#armTimer(next);
  }

  #rejectAll(err: Error): void {
    for (const [id, pending] of [...this.#pending]) {
      this.#settle(id);
      pending.reject(err);
    }
  }
}
