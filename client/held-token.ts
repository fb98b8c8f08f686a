/**
 * The token an adapter (proxy, fetch wrapper) last got from the daemon for one
 * MCP server, kept so that a daemon restart does not fail its requests.
 *
 * - While the daemon is unreachable, the held token is served for the rest of
 *   its life, never past `expires_at` (less the caller's min TTL and a small
 *   margin), and never when its expiry is unknown. It is only ever the token
 *   the daemon gave for this server: the holder is per server.
 * - After a failure the daemon is asked again only once a backoff delay has
 *   passed (doubling up to a cap), so a stopped daemon costs no connect
 *   attempt per request.
 * - A follower connection subscribed to `credential.updated` replaces the held
 *   token as soon as the daemon refreshes it (or drops it on a logout or a
 *   needed login), and reconnects with the same backoff after the daemon goes
 *   away. It never keeps the user's process alive.
 */
import { isAuthdError } from '../shared/errors.js';
import { EVENT_CREDENTIAL_UPDATED } from '../shared/protocol/types.js';
import { type CredentialUpdated, type TokenGetResult } from '../shared/protocol/credential-types.js';
import { Connection } from './connection.js';

/** Backoff between attempts to reach an unreachable daemon. */
export const RECONNECT_INITIAL_MS = 100;
export const RECONNECT_MAX_MS = 5_000;
/** A held token is not served in its last second: it would expire on the way. */
export const EXPIRY_MARGIN_MS = 1_000;

/** Errors that mean "the daemon is not there right now", not "it said no". */
export function isDaemonUnreachable(err: unknown): boolean {
  return isAuthdError(err, 'DAEMON_UNAVAILABLE') || isAuthdError(err, 'DAEMON_TIMEOUT');
}

export interface HeldTokenOptions {
  /** The socket to follow updates on (where the adapter's client connected). */
  socketPath: () => string;
  /** Asks the daemon for the current token again; called after an update or a reconnect. */
  refetch: () => Promise<void>;
  now?: () => number;
}

export class HeldToken {
  readonly #options: HeldTokenOptions;
  readonly #now: () => number;
  #held: TokenGetResult | undefined;
  #delayMs = RECONNECT_INITIAL_MS;
  /** Until then, the daemon is not asked (it failed a moment ago). */
  #retryAt = 0;
  #follower: Connection | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: HeldTokenOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The held token if it stays valid for `minTtlSec` more seconds (plus the margin); otherwise undefined. */
  usable(minTtlSec: number): TokenGetResult | undefined {
    const held = this.#held;
    if (held === undefined || held.expires_at === null) return undefined;
    return held.expires_at * 1000 - minTtlSec * 1000 - EXPIRY_MARGIN_MS > this.#now() ? held : undefined;
  }

  /** False while the backoff after a failure runs: serve the held token instead of asking. */
  shouldAskDaemon(): boolean {
    return this.#now() >= this.#retryAt;
  }

  /** The daemon answered with `result`: hold it, reset the backoff, follow its updates. */
  remember(result: TokenGetResult): void {
    if (this.#held !== undefined && this.#held.resource !== result.resource) this.#stopFollowing();
    this.#held = result;
    this.#delayMs = RECONNECT_INITIAL_MS;
    this.#retryAt = 0;
    this.#follow();
  }

  /** The credential is gone or needs a login: nothing may be served from here. */
  forget(): void {
    this.#held = undefined;
  }

  /** The daemon could not be reached: wait before asking again, a little longer each time. */
  daemonDown(): void {
    this.#retryAt = this.#now() + this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, RECONNECT_MAX_MS);
  }

  close(): void {
    this.#closed = true;
    this.#stopFollowing();
  }

  #stopFollowing(): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#follower?.close();
    this.#follower = undefined;
  }

  #follow(): void {
    if (this.#closed || this.#follower !== undefined || this.#reconnectTimer !== undefined) return;
    const path = this.#options.socketPath();
    const follower = new Connection(path);
    this.#follower = follower;
    follower.onNotification(
      (n) => {
        if (n.event !== EVENT_CREDENTIAL_UPDATED) return;
        this.#onUpdate(n.data as unknown as CredentialUpdated);
      },
      { holdProcess: false },
    );
    follower.onDisconnect(() => this.#lost(follower));
    follower.request('subscribe', {}).catch(() => this.#lost(follower));
  }

  #onUpdate(update: CredentialUpdated): void {
    const held = this.#held;
    if (held === undefined || update.resource !== held.resource) return;
    if (update.change === 'deleted' || update.change === 'needs_login') {
      this.forget();
      return;
    }
    if (update.change === 'refreshed' || update.change === 'logged_in') {
      // The held token is still good until its own expiry; a failed refetch leaves it be.
      this.#options.refetch().catch(() => undefined);
    }
  }

  /** The follower's connection ended (the daemon stopped or restarts): reconnect after the backoff. */
  #lost(follower: Connection): void {
    if (this.#follower !== follower) return;
    follower.close();
    this.#follower = undefined;
    this.#retryLater();
  }

  /**
   * Asks the daemon for the token once the backoff delay has passed. An answer
   * proves the daemon is back: remember() then follows it again, and the token
   * the new daemon holds replaces ours. No answer: wait longer and try again.
   */
  #retryLater(): void {
    if (this.#closed || this.#reconnectTimer !== undefined) return;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, RECONNECT_MAX_MS);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closed) return;
      this.#options.refetch().catch(() => {
        if (this.#follower === undefined) this.#retryLater();
      });
    }, delay);
    this.#reconnectTimer.unref();
  }
}
