/**
 * What protects the login's loopback listener from other local users and from
 * floods (issue 13 items 1-3):
 *
 * - every connection is checked against its owner before any request on it is
 *   answered: only the daemon's own uid and root; where the owner cannot be
 *   determined (Linux), the connection is closed (fail closed);
 * - a cap on open connections (beyond it Node closes new ones at once), and
 *   timeouts for headers, whole requests and idle keep-alive connections, so a
 *   flood cannot take the daemon to its file-descriptor limit;
 * - refusals are reported once per uid and reason, then only counted.
 *
 * Where there is no owner information (macOS, others: mode `state_only`) the
 * caps still apply and the callback is protected by `state` alone.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Socket } from 'node:net';
import { callbackPeerCheckMode, isAllowedPeerUid, PeerOwnerResolver } from './loopback-peer-owner.js';
import type { CallbackPeerCheckMode, PeerOwner, TcpEndpoint } from './loopback-peer-owner.js';

export interface PeerCheck {
  mode: CallbackPeerCheckMode;
  /** Default: this process's uid. */
  ownUid?: number;
  /** Default: /proc/net/tcp{,6}, batched. */
  ownerOf?: (peer: TcpEndpoint, local: TcpEndpoint) => Promise<PeerOwner>;
}

export interface ListenerLimits {
  /** Open connections at once; a browser uses up to 6 per host. */
  maxConnections: number;
  /** Until a request's headers are complete, from the connection's start. */
  headersTimeoutMs: number;
  /** Until a whole request is received. */
  requestTimeoutMs: number;
  /** An open connection with nothing happening. */
  idleTimeoutMs: number;
}

export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  maxConnections: 16,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  idleTimeoutMs: 15_000,
};

/** A refused connection: the first per uid and reason, then a summary with the count when the listener closes. */
export interface PeerRefusal {
  reason: string;
  uid?: number;
  count: number;
}

const sharedResolver = new PeerOwnerResolver();

export function defaultPeerCheck(): PeerCheck {
  return { mode: callbackPeerCheckMode() };
}

/**
 * Options for the HTTP server behind the guard. It never listens itself (the
 * guard hands it connections), so Node's periodic headers/request timeout
 * check never runs for it: the guard enforces those deadlines per socket.
 */
export function serverTimeouts(limits: ListenerLimits): http.ServerOptions {
  return { keepAliveTimeout: Math.min(2_000, limits.idleTimeoutMs) };
}

export class ConnectionGuard {
  readonly mode: CallbackPeerCheckMode;
  readonly #ownUid: number;
  readonly #ownerOf: (peer: TcpEndpoint, local: TcpEndpoint) => Promise<PeerOwner>;
  readonly #refusals = new Map<string, PeerRefusal>();
  readonly #onRefused: (refusal: PeerRefusal) => void;

  constructor(check: PeerCheck, onRefused: (refusal: PeerRefusal) => void) {
    this.mode = check.mode;
    this.#ownUid = check.ownUid ?? process.getuid?.() ?? -1;
    this.#ownerOf = check.ownerOf ?? ((peer, local) => sharedResolver.lookup(peer, local));
    this.#onRefused = onRefused;
  }

  /**
   * Puts the check in front of the HTTP server: `front` (created with
   * pauseOnConnect, so not a byte is read) accepts, the owner is checked, and
   * only an allowed connection is handed to `http`, which then reads it.
   */
  attach(front: net.Server, httpServer: http.Server, limits: ListenerLimits): void {
    front.maxConnections = limits.maxConnections;
    httpServer.maxHeadersCount = 50;
    // No 'timeout' listener: Node destroys an idle socket itself.
    httpServer.setTimeout(limits.idleTimeoutMs);
    httpServer.on('request', (req: http.IncomingMessage) => requested.add(req.socket));
    const requested = new WeakSet<Socket>();
    front.on('connection', (socket: Socket) => {
      socket.on('error', () => socket.destroy());
      // Deadlines per socket (see serverTimeouts): the first request's headers within
      // headersTimeoutMs, and no connection lives past requestTimeoutMs. Slow senders
      // cannot hold a slot.
      const headers = setTimeout(() => {
        if (!requested.has(socket)) socket.destroy();
      }, limits.headersTimeoutMs);
      const lifetime = setTimeout(() => socket.destroy(), Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs));
      headers.unref();
      lifetime.unref();
      socket.once('close', () => {
        clearTimeout(headers);
        clearTimeout(lifetime);
      });
      void this.#check(socket).then((allowed) => {
        if (!allowed || socket.destroyed) {
          socket.destroy();
          return;
        }
        httpServer.emit('connection', socket);
        socket.resume();
      });
    });
  }

  /** Reports every reason refused more than once, with its count. */
  summarize(): void {
    for (const refusal of this.#refusals.values()) if (refusal.count > 1) this.#onRefused({ ...refusal });
    this.#refusals.clear();
  }

  async #check(socket: Socket): Promise<boolean> {
    if (this.mode === 'state_only') return true;
    const peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    let owner: PeerOwner;
    try {
      owner = await this.#ownerOf(peer, local);
    } catch (err) {
      owner = { known: false, reason: `the owner lookup failed: ${(err as Error).message}` };
    }
    if (owner.known && isAllowedPeerUid(owner.uid, this.#ownUid)) return true;
    this.#refused(
      owner.known
        ? { reason: `a connection from uid ${owner.uid} (not this user) was refused`, uid: owner.uid, count: 1 }
        : { reason: `a connection whose owner is unknown was refused (${owner.reason})`, count: 1 },
    );
    return false;
  }

  #refused(refusal: PeerRefusal): void {
    const key = refusal.uid === undefined ? refusal.reason : `uid ${refusal.uid}`;
    const seen = this.#refusals.get(key);
    if (seen !== undefined) {
      seen.count += 1;
      return;
    }
    this.#refusals.set(key, refusal);
    this.#onRefused({ ...refusal });
  }
}
