/**
 * The daemon side of the socket: node-ipc 14 with the `assured` profile (an
 * allow-list of event names, frame cap, incomplete-frame timeout, socket
 * directly inside an owner-only directory). This module knows frames and
 * connections, not tokens: every valid request goes to `handle`.
 *
 * Frame-level violations (not JSON, too large, an event outside the
 * allow-list, a reserved name, half a frame that stalls) close that one
 * connection, as ssh-agent does; a well-formed frame with a bad request gets an
 * `invalid_request` reply. Either way everyone else keeps being served.
 */
import { unlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { IPCModule } from 'node-ipc';
import { EncodedResult } from './encoded-result.js';
import type { Logger } from '../os/logger.js';
import type { PeerChecker, PeerVerdict } from './peer-check.js';
import type { Caller } from './caller.js';
import { RefusalLog } from './refusal-log.js';
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import {
  ALLOWED_EVENTS,
  EVENT_NOTIFY,
  EVENT_REQUEST,
  EVENT_RESPONSE,
  PROTOCOL_VERSION,
  WIRE_ERROR_CODES,
  type Notification,
  type Request,
  type RequestId,
  type Response,
  type WireErrorCode,
} from '../../shared/protocol/types.js';
import { MAX_FRAME_BYTES, encodeResultFrame } from '../../shared/protocol/framing.js';
import { parseRequest } from '../../shared/protocol/validate.js';

export interface ServerLimits {
  /** Connections open at once; more are refused by the kernel listener. */
  maxConnections: number;
  /** Requests one connection may have in flight; more get `busy`. */
  maxInFlightPerConnection: number;
  /** A connection with nothing in flight and no subscription is closed after this long. */
  idleTimeoutMs: number;
  /** Time allowed for an incomplete frame before the connection is closed. */
  frameTimeoutMs: number;
  /** On shutdown, how long requests in flight may take to finish. */
  drainTimeoutMs: number;
  /** Refused connections are logged at most once per peer uid per this interval, with a count (refusal-log.ts). */
  refusalLogIntervalMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxConnections: 256,
  maxInFlightPerConnection: 32,
  idleTimeoutMs: 60_000,
  frameTimeoutMs: 5_000,
  drainTimeoutMs: 10_000,
  refusalLogIntervalMs: 60_000,
};

/** What a handler may do besides answering: send progress events on this connection, hold it open. */
export interface RequestContext {
  notify(event: string, data: Record<string, unknown>): void;
  /** Keeps the connection from idling out (subscriptions, long logins). */
  keepAlive(): void;
  /** Resolves when the client goes away, so long operations can stop. */
  readonly closed: AbortSignal;
  /** Who is asking (caller.ts), read once when the connection was accepted; undefined when the server was given no way to tell. */
  readonly caller: Caller | undefined;
}

export type RequestHandler = (request: Request, ctx: RequestContext) => Promise<unknown>;

interface Connection {
  socket: Socket;
  inFlight: number;
  keepAlive: boolean;
  closed: AbortController;
  caller: Caller | undefined;
}

export class SocketServer {
  readonly #ipc = new IPCModule();
  readonly #path: string;
  readonly #handle: RequestHandler;
  readonly #logger: Logger;
  readonly #limits: ServerLimits;
  readonly #peerCheck: PeerChecker | undefined;
  readonly #describeCaller: ((pid: number | undefined) => Caller) | undefined;
  readonly #refusals: RefusalLog;
  readonly #connections = new Map<Socket, Connection>();
  readonly #pending = new Set<Promise<void>>();
  #closing = false;

  constructor(options: {
    socketPath: string;
    socketDir: string;
    handle: RequestHandler;
    logger: Logger;
    limits?: Partial<ServerLimits>;
    peerCheck?: PeerChecker;
    /** Who is behind a peer pid (caller.ts); read once per connection, on accept. */
    describeCaller?: (pid: number | undefined) => Caller;
    /** Time for the refusal log's interval; default Date.now (tests inject a manual clock). */
    now?: () => number;
  }) {
    this.#path = options.socketPath;
    this.#peerCheck = options.peerCheck;
    this.#describeCaller = options.describeCaller;
    this.#handle = options.handle;
    this.#logger = options.logger;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#refusals = new RefusalLog({ intervalMs: this.#limits.refusalLogIntervalMs, now: options.now ?? Date.now });
    const config = this.#ipc.config;
    config.parser = 'assured';
    config.allowedEvents = ALLOWED_EVENTS;
    config.socketRoot = `${options.socketDir}/`;
    config.secureSocketRoot = true;
    config.maxConnections = this.#limits.maxConnections;
    config.maxMessageSize = MAX_FRAME_BYTES;
    config.maxPendingBytes = 4 * 1024 * 1024;
    config.messageTimeout = this.#limits.frameTimeoutMs;
    // The daemon removes a stale socket itself, after proving nobody answers on it.
    config.unlink = false;
    // node-ipc's own logging can print payloads; ours never does.
    config.silent = true;
    config.logPayloads = false;
    config.readableAll = false;
    config.writableAll = false;
  }

  /** Starts listening; resolves once the socket accepts connections. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#ipc.serve(this.#path, () => resolve());
      const server = this.#ipc.server;
      if (server === false) {
        reject(new Error('node-ipc did not create a server'));
        return;
      }
      server.on('connect', (socket: Socket) => this.#onConnect(socket));
      server.on('socket.disconnected', (socket: Socket) => this.#onDisconnect(socket));
      server.on(EVENT_REQUEST, (data: unknown, socket: Socket) => this.#onRequest(data, socket));
      server.on('error', (err) => {
        const code = (err as { code?: string }).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'ERR_IPC_SOCKET_ROOT') {
          reject(err);
          return;
        }
        // Protocol errors: node-ipc has already closed that one connection.
        this.#logger.warn('closed a connection after a protocol error', { code: code ?? 'unknown', reason: err.message });
      });
      try {
        server.start();
      } catch (err) {
        reject(err);
      }
    });
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Sends an event to every connection that asked to keep alive (subscribers). */
  broadcast(event: string, data: Record<string, unknown>, filter: (socket: Socket) => boolean): void {
    for (const conn of this.#connections.values()) {
      if (filter(conn.socket)) this.#send(conn.socket, EVENT_NOTIFY, { v: PROTOCOL_VERSION, event, data } satisfies Notification);
    }
  }

  /**
   * Stops accepting, lets requests in flight finish (bounded), closes every
   * connection and removes the socket file, so a client sees "no daemon"
   * rather than a socket that never answers.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const server = this.#ipc.server;
    if (server !== false && server.server !== false) server.server.close();
    if (this.#pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#pending]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#limits.drainTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    try {
      unlinkSync(this.#path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger.warn('could not remove the socket', { path: this.#path, reason: (err as Error).message });
    }
    for (const { key, suppressed } of this.#refusals.drain()) {
      this.#logger.warn('refused connections not logged before shutdown', { peer_uid: key === 'unknown' ? null : Number(key), suppressed });
    }
    for (const conn of this.#connections.values()) conn.closed.abort();
    if (server !== false) server.stop();
    this.#connections.clear();
  }

  #onConnect(socket: Socket): void {
    // First, before any byte is parsed (ssh-agent): only our own user and root
    // may talk to us. node-ipc publishes 'connect' synchronously on accept, so no
    // data event can have run yet; a refused socket never enters #connections,
    // which #onRequest also requires.
    let pid: number | undefined;
    if (this.#peerCheck !== undefined) {
      const verdict = this.#peerCheck.check(socket);
      if (!verdict.allowed) {
        this.#logRefusal(verdict);
        socket.destroy();
        return;
      }
      pid = verdict.peer?.pid;
    }
    // Read now, while a short-lived client still lives: once per connection, never per request.
    const caller = this.#describeCaller?.(pid);
    const conn: Connection = { socket, inFlight: 0, keepAlive: false, closed: new AbortController(), caller };
    this.#connections.set(socket, conn);
    socket.setTimeout(this.#limits.idleTimeoutMs);
    socket.on('timeout', () => {
      if (conn.inFlight === 0 && !conn.keepAlive) socket.destroy();
    });
    // node-ipc only reports a disconnect for sockets it still tracks; make sure
    // a client that vanishes mid-request is noticed either way.
    socket.once('close', () => this.#onDisconnect(socket));
  }

  /** One line per peer uid per interval, carrying how many were left out (a flood must not rotate the log away). */
  #logRefusal(verdict: PeerVerdict & { allowed: false }): void {
    const { log, suppressed } = this.#refusals.record(String(verdict.peer?.uid ?? 'unknown'));
    if (!log) return;
    this.#logger.warn('refused a connection: peer check failed', {
      reason: verdict.reason,
      peer_uid: verdict.peer?.uid ?? null,
      peer_pid: verdict.peer?.pid ?? null,
      suppressed,
      interval_s: this.#limits.refusalLogIntervalMs / 1000,
    });
  }

  #onDisconnect(socket: Socket): void {
    const conn = this.#connections.get(socket);
    if (conn === undefined) return;
    this.#connections.delete(socket);
    conn.closed.abort();
  }

  #onRequest(data: unknown, socket: Socket): void {
    const conn = this.#connections.get(socket);
    if (conn === undefined || this.#closing) return;
    const parsed = parseRequest(data);
    if (!parsed.ok) {
      this.#reply(socket, { v: PROTOCOL_VERSION, id: parsed.id, ok: false, error: parsed.error });
      return;
    }
    const request = parsed.request;
    if (conn.inFlight >= this.#limits.maxInFlightPerConnection) {
      this.#replyError(socket, request.id, 'busy', `more than ${this.#limits.maxInFlightPerConnection} requests in flight on one connection`);
      return;
    }
    conn.inFlight += 1;
    const ctx: RequestContext = {
      notify: (event, payload) => {
        if (!socket.destroyed) this.#send(socket, EVENT_NOTIFY, { v: PROTOCOL_VERSION, event, request_id: request.id, data: payload } satisfies Notification);
      },
      keepAlive: () => {
        conn.keepAlive = true;
      },
      closed: conn.closed.signal,
      caller: conn.caller,
    };
    const work = this.#run(request, ctx, socket).finally(() => {
      conn.inFlight -= 1;
      this.#pending.delete(work);
    });
    this.#pending.add(work);
  }

  async #run(request: Request, ctx: RequestContext, socket: Socket): Promise<void> {
    // winston formats a line (timestamp, redaction, JSON) before it drops it
    // for being below the level: on this path, per request, that was about a
    // sixth of the daemon's CPU. Ask first (docs/benchmarks.md).
    const debug = this.#logger.isDebugEnabled();
    const started = debug ? performance.now() : 0;
    try {
      const result = await this.#handle(request, ctx);
      if (result instanceof EncodedResult) this.#replyEncoded(socket, request.id, result);
      else this.#reply(socket, { v: PROTOCOL_VERSION, id: request.id, ok: true, result });
      if (debug) this.#logger.debug('request', { method: request.method, ms: Math.round(performance.now() - started) });
    } catch (err) {
      const { code, message, data } = toWireError(err);
      if (code === 'internal') this.#logger.error('request failed', { method: request.method, error: err });
      else if (this.#logger.isDebugEnabled()) this.#logger.debug('request refused', { method: request.method, code });
      this.#replyError(socket, request.id, code, message, data);
    }
  }

  #replyError(socket: Socket, id: RequestId | null, code: WireErrorCode, message: string, data?: Record<string, unknown>): void {
    this.#reply(socket, { v: PROTOCOL_VERSION, id, ok: false, error: data === undefined ? { code, message } : { code, message, data } });
  }

  #reply(socket: Socket, response: Response): void {
    this.#send(socket, EVENT_RESPONSE, response);
  }

  /**
   * The frame node-ipc's encode would make of the same response
   * (shared/protocol/framing.ts encodeResultFrame), with the result's JSON spliced in
   * rather than serialized again. It goes out through node-ipc's own writer,
   * so the pending-bytes cap still holds.
   */
  #replyEncoded(socket: Socket, id: RequestId, result: EncodedResult<unknown>): void {
    if (socket.destroyed) return;
    const server = this.#ipc.server;
    if (server === false) return;
    let frame: string;
    try {
      frame = encodeResultFrame(id, result.json);
    } catch (err) {
      this.#logger.error('could not encode a reply', { event: EVENT_RESPONSE, reason: (err as Error).message });
      this.#replyError(socket, id, 'internal', 'reply too large to send');
      return;
    }
    server.write(socket, frame);
  }

  #send(socket: Socket, event: string, payload: unknown): void {
    if (socket.destroyed) return;
    const server = this.#ipc.server;
    if (server === false) return;
    try {
      server.emit(socket, event, payload);
    } catch (err) {
      // Only an oversized reply can fail to encode; say so instead of going silent.
      this.#logger.error('could not encode a reply', { event, reason: (err as Error).message });
      if (event === EVENT_RESPONSE) {
        const id = (payload as { id?: RequestId | null }).id ?? null;
        server.emit(socket, EVENT_RESPONSE, { v: PROTOCOL_VERSION, id, ok: false, error: { code: 'internal', message: 'reply too large to send' } });
      }
    }
  }
}

/**
 * The one place a thrown error becomes a wire error. Only codes from the wire
 * set pass through with their message (those messages are written for users and
 * carry no secrets); anything else becomes `internal` with a fixed text, so a
 * library message built from a server body never reaches a client.
 */
export function toWireError(err: unknown): { code: WireErrorCode; message: string; data?: Record<string, unknown> } {
  if (isAuthdError(err) && WIRE_ERROR_CODES.has(err.code)) {
    return err.data === undefined
      ? { code: err.code as WireErrorCode, message: err.message }
      : { code: err.code as WireErrorCode, message: err.message, data: { ...err.data } };
  }
  if (err instanceof AuthdError) return { code: 'internal', message: `${err.code}: ${err.message}` };
  return { code: 'internal', message: 'internal error; see the daemon log' };
}
