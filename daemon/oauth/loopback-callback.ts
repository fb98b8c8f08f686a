/**
 * The loopback redirect listener of a login (RFC 8252 §7.3, checklist A2-A4;
 * issue 13 items 1-3, issue 12 item 10).
 *
 * - Bound to 127.0.0.1 on an ephemeral port, and listening before the caller
 *   can learn the redirect URI (the browser is opened only after that).
 * - Serves only connections from the daemon's own user and root where the
 *   platform can tell (loopback-guard.ts); caps connections, times out slow ones.
 * - The browser is opened at a single-use start URL, /start/<nonce>, that
 *   redirects to the authorization URL: neither `state` nor the PKCE challenge
 *   is ever in a browser's argv, readable by every user in /proc/<pid>/cmdline.
 * - Checks `state` (A2) and `iss` (A3, RFC 9207) before the code is accepted.
 *   A callback that is not for this login (wrong or no state, wrong iss) gets
 *   an error page and the login keeps waiting; one with this login's state
 *   decides it, success or `error=`. After that the listener stops accepting.
 * - A redirect URL pasted by the user (browser on another machine) goes
 *   through exactly the same checks.
 * - Pages never echo the code, and are not cached or sent as a referrer.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AuthdError } from '../../shared/errors.js';
import { START_PATH_PREFIX } from '../../shared/login-start-url.js';
import { checkAuthorizationResponse, NOT_FOR_THIS_LOGIN, page, PAGE_HEADERS, rejected } from './authorization-response.js';
import type { AuthorizationResponse, CallbackExpectations } from './authorization-response.js';
import { ConnectionGuard, DEFAULT_LISTENER_LIMITS, defaultPeerCheck, serverTimeouts } from './loopback-guard.js';
import type { ListenerLimits, PeerCheck, PeerRefusal } from './loopback-guard.js';
import type { CallbackPeerCheckMode } from './loopback-peer-owner.js';
import type { FixedRedirect } from '../../shared/fixed-redirect.js';
import { portInUseError } from './port-holder.js';

export { checkAuthorizationResponse } from './authorization-response.js';
export { START_PATH_PREFIX } from '../../shared/login-start-url.js';
export type { AuthorizationResponse, CallbackExpectations } from './authorization-response.js';

export const CALLBACK_PATH = '/callback';
export const CALLBACK_HOST = '127.0.0.1';
/** Default wait for the user to approve. */
export const DEFAULT_CALLBACK_TIMEOUT_MS = 300_000;

export interface CallbackOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Default: the platform's check (owner via /proc on Linux, none elsewhere). */
  peerCheck?: PeerCheck;
  limits?: Partial<ListenerLimits>;
  /** A connection refused by the owner check (first per uid and reason, then a count at close). */
  onPeerRefused?: (refusal: PeerRefusal) => void;
  /** A callback refused as not for this login; the login keeps waiting. No secret in `message`. */
  onCallbackRefused?: (reason: string, message: string) => void;
  /** A fixed redirect URI (issue 16): listen on its port and path instead of an ephemeral port. */
  redirect?: FixedRedirect;
}

/** What submitUrl() made of a pasted URL. */
export type SubmitResult = { accepted: true } | { accepted: false; message: string };

type Decision = { kind: 'accepted' } | { kind: 'refused'; error: AuthdError } | { kind: 'failed'; error: AuthdError };

export class LoopbackCallback {
  readonly redirectUri: string;
  readonly #callbackPath: string;
  /** Open the browser here: it redirects, once, to the authorization URL. No secret in it. */
  readonly startUrl: string;
  readonly #nonce: Buffer;
  /** Accepts and checks connections; hands allowed ones to #server. */
  readonly #front: net.Server;
  readonly #server: http.Server;
  readonly #guard: ConnectionGuard;
  readonly #onCallbackRefused: ((reason: string, message: string) => void) | undefined;
  #expected: CallbackExpectations | undefined;
  #startUsed = false;
  readonly #result: Promise<AuthorizationResponse>;
  #resolve!: (value: AuthorizationResponse) => void;
  #reject!: (reason: AuthdError) => void;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  #signal: AbortSignal | undefined;

  private constructor(front: net.Server, server: http.Server, port: number, guard: ConnectionGuard, options: CallbackOptions) {
    this.#front = front;
    this.#server = server;
    this.#guard = guard;
    this.#onCallbackRefused = options.onCallbackRefused;
    this.#nonce = randomBytes(24);
    this.redirectUri = options.redirect?.uri ?? `http://${CALLBACK_HOST}:${port}${CALLBACK_PATH}`;
    this.#callbackPath = options.redirect?.path ?? CALLBACK_PATH;
    this.startUrl = `http://${CALLBACK_HOST}:${port}${START_PATH_PREFIX}${this.#nonce.toString('base64url')}`;
    this.#result = new Promise<AuthorizationResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // The caller may fail before it waits (e.g. registration); do not report that as unhandled.
    this.#result.catch(() => undefined);
  }

  /**
   * Starts listening; resolves only once the port is bound (A4). The timeout
   * runs from here. Call expect() before handing out the start URL.
   */
  static async listen(options: CallbackOptions = {}): Promise<LoopbackCallback> {
    const limits: ListenerLimits = { ...DEFAULT_LISTENER_LIMITS, ...options.limits };
    const guard = new ConnectionGuard(options.peerCheck ?? defaultPeerCheck(), options.onPeerRefused ?? (() => undefined));
    let instance: LoopbackCallback | undefined;
    // Only connections the guard let through ever reach this server.
    const server = http.createServer(serverTimeouts(limits), (req, res) => {
      if (instance === undefined) res.writeHead(503).end();
      else instance.#handle(req, res);
    });
    const front = net.createServer({ pauseOnConnect: true });
    guard.attach(front, server, limits);
    const port = options.redirect?.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen({ port, host: CALLBACK_HOST, exclusive: true }, () => {
        front.off('error', reject);
        resolve();
      });
    }).catch(async (err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (options.redirect === undefined) throw err;
      if (code === 'EADDRINUSE') throw await portInUseError(options.redirect);
      if (code === 'EACCES') {
        throw new AuthdError('invalid_request', `port ${options.redirect.port} of the redirect URI ${options.redirect.uri} cannot be listened on by this user (ports below 1024 need privileges); register and use a higher port`, {
          data: { reason: 'invalid_redirect_uri', port: options.redirect.port },
        });
      }
      throw err;
    });
    instance = new LoopbackCallback(front, server, (front.address() as AddressInfo).port, guard, options);
    instance.#arm(options);
    return instance;
  }

  #arm(options: CallbackOptions): void {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS;
    this.#timer = setTimeout(() => {
      this.#fail(rejected(`no authorization callback within ${Math.round(timeoutMs / 1000)} s; the login timed out`, 'timeout'));
    }, timeoutMs);
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => this.#fail(rejected('the login was cancelled', 'aborted'));
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.#signal = signal;
      this.#onAbort = onAbort;
    }
  }

  /** How this listener tells the user's connections from other users'. */
  get peerCheckMode(): CallbackPeerCheckMode {
    return this.#guard.mode;
  }

  /**
   * What the callback must carry, and where the start URL leads. The redirect
   * URI has to exist before the authorization request (and so its state) can
   * be built, hence this step.
   */
  expect(expected: CallbackExpectations): void {
    this.#expected = expected;
  }

  /** Resolves with the authorization response, or rejects (timeout, abort, a callback with this login's state that failed). */
  wait(): Promise<AuthorizationResponse> {
    return this.#result;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Feeds in the redirect URL the user pasted. A URL that is not this login's
   * redirect URI, or not its answer (state, iss), is refused and the login
   * keeps waiting; one that is goes through the same checks as a browser
   * callback and decides the login.
   */
  submitUrl(pasted: string): SubmitResult {
    if (this.#settled) return { accepted: false, message: 'this login has already finished; nothing changed' };
    let url: URL;
    try {
      url = new URL(pasted.trim());
    } catch {
      return { accepted: false, message: 'not a URL; paste the full address the browser ended on' };
    }
    if (`${url.origin}${url.pathname}` !== this.redirectUri) {
      return { accepted: false, message: `not this login's redirect address (expected it to start with ${this.redirectUri})` };
    }
    const decision = this.#decide(url.searchParams);
    if (decision.kind === 'refused') return { accepted: false, message: `${decision.error.message}; the login is still waiting` };
    return { accepted: true };
  }

  /** Stops listening and drops every connection; a still-waiting login fails as cancelled. */
  close(): void {
    this.#fail(rejected('the login was cancelled', 'aborted'));
    this.#server.closeAllConnections();
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.redirectUri);
    if (req.method === 'GET' && url.pathname.startsWith(START_PATH_PREFIX)) {
      this.#start(url.pathname.slice(START_PATH_PREFIX.length), res);
      return;
    }
    if (req.method !== 'GET' || url.pathname !== this.#callbackPath) {
      res.writeHead(404, PAGE_HEADERS).end(page('Not found', 'This address only receives the login callback.'));
      return;
    }
    if (this.#settled) {
      res.writeHead(409, PAGE_HEADERS).end(page('Already handled', 'This login was already completed or ended; nothing changed. You can close this window.'));
      return;
    }
    const decision = this.#decide(url.searchParams);
    if (decision.kind === 'accepted') {
      res.writeHead(200, PAGE_HEADERS).end(page('Login complete', 'mcpauthd received the authorization. You can close this window.'));
    } else if (decision.kind === 'refused') {
      res.writeHead(400, PAGE_HEADERS).end(page('Not this login', `${decision.error.message}. Nothing changed: mcpauthd is still waiting for the answer to its own request.`));
    } else {
      res.writeHead(400, PAGE_HEADERS).end(page('Login failed', `${decision.error.message}. You can close this window.`));
    }
    // The connection may stay open (keep-alive) after the page; once it is idle it goes too.
    res.once('finish', () => {
      if (this.#settled) this.#server.closeIdleConnections();
    });
  }

  /** The single-use redirect to the authorization URL. */
  #start(nonceText: string, res: http.ServerResponse): void {
    const given = Buffer.from(nonceText, 'utf8');
    const expected = Buffer.from(this.#nonce.toString('base64url'), 'utf8');
    const authorizationUrl = this.#expected?.authorizationUrl;
    if (given.length !== expected.length || !timingSafeEqual(given, expected) || authorizationUrl === undefined || this.#settled) {
      res.writeHead(404, PAGE_HEADERS).end(page('Not found', 'No login is waiting at this address.'));
      return;
    }
    if (this.#startUsed) {
      // Where other users cannot be told apart, a second visit may be someone else who read
      // the start URL: they could now hold the state, so this login must not complete.
      const cancel = this.#guard.mode === 'state_only';
      if (cancel) this.#fail(rejected('the login start address was opened twice, possibly by someone else; the login was cancelled, start it again', 'start_reused'));
      res.writeHead(410, PAGE_HEADERS).end(
        page('Already used', cancel ? 'This login start address was opened twice, so the login was cancelled. Start the login again.' : 'This login start address works once; continue in the window it opened first.'),
      );
      return;
    }
    this.#startUsed = true;
    res.writeHead(302, { ...PAGE_HEADERS, location: authorizationUrl }).end();
  }

  /** The single decision of this listener; a callback not for this login decides nothing. */
  #decide(params: URLSearchParams): Decision {
    let error: AuthdError;
    try {
      if (this.#expected === undefined) {
        // Nobody was sent anywhere yet: whatever this is, it is not our authorization response.
        throw rejected('a callback arrived before this login handed out its authorization URL', 'state_mismatch');
      }
      const response = checkAuthorizationResponse(params, this.#expected);
      this.#settle();
      this.#resolve(response);
      this.#shutdown();
      return { kind: 'accepted' };
    } catch (err) {
      error = err instanceof AuthdError ? err : rejected('the callback could not be processed', 'invalid_callback');
    }
    const reason = String(error.data?.['reason'] ?? '');
    if (NOT_FOR_THIS_LOGIN.has(reason)) {
      this.#onCallbackRefused?.(reason, error.message);
      return { kind: 'refused', error };
    }
    this.#fail(error);
    return { kind: 'failed', error };
  }

  #fail(error: AuthdError): void {
    if (this.#settled) return;
    this.#settle();
    this.#reject(error);
    this.#shutdown();
  }

  #settle(): void {
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  #shutdown(): void {
    // No new connections; requests already on an open connection still get the
    // "already handled" page, which is what a browser reload on keep-alive sees.
    if (this.#front.listening) this.#front.close();
    this.#server.closeIdleConnections();
    this.#guard.summarize();
  }
}
