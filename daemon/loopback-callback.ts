/**
 * The loopback redirect listener of a login (RFC 8252 §7.3, checklist A2-A4).
 *
 * - Bound to 127.0.0.1 on an ephemeral port, and listening before the caller
 *   can learn the redirect URI (the browser is opened only after that).
 * - Single use: the first request to /callback decides the login, success or
 *   failure; after that the listener stops accepting connections, and anything
 *   still arriving on an open connection gets a page saying nothing changed.
 * - Checks `state` (A2) and `iss` (A3, RFC 9207) before the code is accepted,
 *   and turns `error=` callbacks into a failed login.
 * - A redirect URL pasted by the user (browser on another machine) goes
 *   through exactly the same checks.
 * - Pages never echo the code, and are not cached or sent as a referrer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthdError } from '../shared/errors.js';
import type { FailureReason } from '../shared/protocol.js';
import { serverText } from './http-fetch.js';
import { Secret } from './secret.js';

export const CALLBACK_PATH = '/callback';
export const CALLBACK_HOST = '127.0.0.1';
/** Default wait for the user to approve. */
export const DEFAULT_CALLBACK_TIMEOUT_MS = 300_000;

export interface CallbackExpectations {
  state: string;
  /** The AS metadata issuer (RFC 9207 compares it exactly). */
  issuer: string;
  /** The AS advertises `authorization_response_iss_parameter_supported`. */
  issRequired: boolean;
}

/** A successful authorization response. */
export interface AuthorizationResponse {
  code: Secret;
  state: string;
  iss: string | undefined;
}

export interface CallbackOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

function rejected(message: string, reason: FailureReason, data: Record<string, unknown> = {}): AuthdError {
  return new AuthdError('OAUTH_FAILED', message, { data: { reason, ...data } });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * Checks the query of a callback against what the login expects.
 * Order: state first (an answer to some other request says nothing about
 * this one), then iss, then error, then code.
 */
export function checkAuthorizationResponse(params: URLSearchParams, expected: CallbackExpectations): AuthorizationResponse {
  const state = params.get('state');
  if (state === null) throw rejected('the callback has no state parameter (A2)', 'state_mismatch');
  if (state !== expected.state) throw rejected('the callback state does not match this login (A2); it belongs to another or a forged request', 'state_mismatch');

  const iss = params.get('iss');
  if (iss === null && expected.issRequired) {
    throw rejected(`the callback has no iss parameter, which ${expected.issuer} promises to send (RFC 9207)`, 'iss_mismatch');
  }
  if (iss !== null && iss !== expected.issuer) {
    throw rejected(
      `the callback iss ${JSON.stringify(serverText(iss, 200))} is not the authorization server ${JSON.stringify(expected.issuer)} (RFC 9207: possible mix-up attack)`,
      'iss_mismatch',
    );
  }

  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    const code = serverText(error, 64);
    throw rejected(
      `the authorization server refused: ${code}${description === null ? '' : ` (${serverText(description, 200)})`}`,
      'authorization_error',
      { error: code },
    );
  }
  const code = params.get('code');
  if (code === null || code === '') throw rejected('the callback has neither a code nor an error', 'invalid_callback');
  return { code: new Secret(code), state, iss: iss ?? undefined };
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'",
  'x-content-type-options': 'nosniff',
} as const;

function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>mcpauthd: ${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
}

/** What submitUrl() made of a pasted URL. */
export type SubmitResult = { accepted: true } | { accepted: false; message: string };

export class LoopbackCallback {
  readonly redirectUri: string;
  readonly #server: http.Server;
  #expected: CallbackExpectations | undefined;
  readonly #result: Promise<AuthorizationResponse>;
  #resolve!: (value: AuthorizationResponse) => void;
  #reject!: (reason: AuthdError) => void;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  #signal: AbortSignal | undefined;

  private constructor(server: http.Server, port: number) {
    this.#server = server;
    this.redirectUri = `http://${CALLBACK_HOST}:${port}${CALLBACK_PATH}`;
    this.#result = new Promise<AuthorizationResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // The caller may fail before it waits (e.g. registration); do not report that as unhandled.
    this.#result.catch(() => undefined);
  }

  /**
   * Starts listening; resolves only once the port is bound (A4). The timeout
   * runs from here. Call expect() before handing out the authorization URL.
   */
  static async listen(options: CallbackOptions = {}): Promise<LoopbackCallback> {
    let instance: LoopbackCallback | undefined;
    const server = http.createServer((req, res) => {
      if (instance === undefined) res.writeHead(503).end();
      else instance.#handle(req, res);
    });
    server.maxHeadersCount = 50;
    server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: CALLBACK_HOST, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    instance = new LoopbackCallback(server, (server.address() as AddressInfo).port);
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

  /**
   * What the callback must carry. The redirect URI has to exist before the
   * authorization request (and so its state) can be built, hence this step.
   */
  expect(expected: CallbackExpectations): void {
    this.#expected = expected;
  }

  /** Resolves with the authorization response, or rejects (timeout, abort, bad callback). */
  wait(): Promise<AuthorizationResponse> {
    return this.#result;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Feeds in the redirect URL the user pasted. A URL that is not this login's
   * redirect URI is refused and the login keeps waiting; one that is goes
   * through the same checks as a browser callback and decides the login.
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
    this.#decide(url.searchParams);
    return { accepted: true };
  }

  /** Stops listening and drops every connection; a still-waiting login fails as cancelled. */
  close(): void {
    this.#fail(rejected('the login was cancelled', 'aborted'));
    this.#server.closeAllConnections();
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.redirectUri);
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
      res.writeHead(404, PAGE_HEADERS).end(page('Not found', 'This address only receives the login callback.'));
      return;
    }
    if (this.#settled) {
      res.writeHead(409, PAGE_HEADERS).end(page('Already handled', 'This login was already completed or ended; nothing changed. You can close this window.'));
      return;
    }
    const outcome = this.#decide(url.searchParams);
    if (outcome === undefined) {
      res.writeHead(200, PAGE_HEADERS).end(page('Login complete', 'mcpauthd received the authorization. You can close this window.'));
    } else {
      res.writeHead(400, PAGE_HEADERS).end(page('Login failed', `${outcome.message}. You can close this window.`));
    }
    // The connection may stay open (keep-alive) after the page; once it is idle it goes too.
    res.once('finish', () => this.#server.closeIdleConnections());
  }

  /** The single decision of this listener; returns the error when the callback was refused. */
  #decide(params: URLSearchParams): AuthdError | undefined {
    try {
      if (this.#expected === undefined) {
        // Nobody was sent here yet: whatever this is, it is not our authorization response.
        throw rejected('a callback arrived before this login handed out its authorization URL', 'state_mismatch');
      }
      const response = checkAuthorizationResponse(params, this.#expected);
      this.#settle();
      this.#resolve(response);
      this.#shutdown();
      return undefined;
    } catch (err) {
      const error = err instanceof AuthdError ? err : rejected('the callback could not be processed', 'invalid_callback');
      this.#fail(error);
      return error;
    }
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
    if (this.#server.listening) this.#server.close();
    this.#server.closeIdleConnections();
  }
}
