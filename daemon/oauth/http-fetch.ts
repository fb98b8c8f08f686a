/**
 * The one way mcpauthd makes outbound HTTP requests during a login: metadata,
 * client registration, and (through openid-client's customFetch) the token and
 * revocation endpoints. Every request gets the same limits:
 *
 * - https only; plain http only to loopback hosts, and only when the user opted
 *   in (checklist A5);
 * - a timeout that also covers reading the body;
 * - a cap on the response size, enforced while reading, so a hostile server
 *   cannot make the daemon buffer more than MAX_RESPONSE_BYTES;
 * - redirects are never followed to another origin (and only for metadata);
 * - error messages name the URL (without its query) and the status, never a
 *   body: a token endpoint's body holds live tokens.
 */
import { discardBody, readBoundedBody, type BoundedBody } from '../../shared/bounded-body.js';
import { AuthdError } from '../../shared/errors.js';
import { type FailureReason } from '../../shared/protocol/types.js';
import { isPlainObject } from '../../shared/protocol/framing.js';
import { assertSecureUrl } from '../../shared/resource-uri.js';
import { redactText } from '../os/logger.js';
import { HTTP_TIMEOUT_MS } from '../../shared/refresh-timing.js';

/** Largest response body read; metadata and token responses are a few KiB. */
export const MAX_RESPONSE_BYTES = 256 * 1024;
// The timeouts live in shared/ because clients wait for a refresh as long as the daemon may.
export { HTTP_TIMEOUT_MS, REFRESH_TIMEOUT_MS } from '../../shared/refresh-timing.js';
/** Same-origin redirects followed for a metadata document before giving up. */
export const MAX_REDIRECTS = 3;

/** The shape of `fetch` that mcpauthd needs; tests inject their own. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpPolicy {
  /** Plain http to 127.0.0.0/8, ::1 and localhost (the user's `--insecure-loopback`). */
  allowInsecureLoopback: boolean;
  timeoutMs?: number;
  maxBytes?: number;
  fetch?: FetchFunction;
  /** Cancels the request (e.g. the login was abandoned). */
  signal?: AbortSignal;
}

export interface HttpRequest {
  /** What is being fetched, for error messages ("protected resource metadata"). */
  what: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: RequestInit['body'];
  /** Follow redirects that stay on the same origin (metadata documents). Default: follow none. */
  followSameOriginRedirects?: boolean;
  /** Drop the body unread (a probe of an MCP endpoint that may answer with an endless stream). */
  discardBody?: boolean;
}

export interface HttpResponse {
  status: number;
  /** The URL that answered (after same-origin redirects). */
  url: string;
  headers: Headers;
  body: Uint8Array;
}

/** A URL as it may appear in an error message or log line: no query, no fragment. */
export function describeUrl(url: string | URL): string {
  try {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

// An opaque token as servers mint them (base64url, hex): a long run of token
// characters mixing letters and digits. An error_description that quotes the
// refresh token we presented is how a server body would leak one.
const OPAQUE_TOKEN = /[A-Za-z0-9_~+=-]{20,}/g;

/**
 * Text a server chose (an error code, an error_description, a system error)
 * made fit for a message or a page: printable ASCII, anything token-shaped
 * (JWTs, Bearer values, opaque token-like words) masked, bounded.
 */
export function serverText(text: string, max: number): string {
  return redactText(text.replace(/[^\x20-\x7E]/g, '?'))
    .replace(OPAQUE_TOKEN, (word) => (/[0-9]/.test(word) && /[A-Za-z]/.test(word) ? '[redacted]' : word))
    .slice(0, max);
}

function httpError(message: string, reason: FailureReason, cause?: unknown, code?: string): AuthdError {
  return new AuthdError('HTTP_FAILED', message, { cause, data: code === undefined ? { reason } : { reason, code } });
}

// System errors that happen before a request leaves this machine (no
// connection, no name, TLS refused): the server cannot have acted on it.
const NOT_SENT = /^(ECONNREFUSED|ENOTFOUND|EAI_|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|UND_ERR_CONNECT_TIMEOUT|ERR_TLS_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_)/;

/**
 * Whether a failed request may have reached the server and been acted on: a
 * timeout or a cancellation (the server may be working on it), or a
 * connection that broke in any way not known to happen before sending. For a
 * rotating refresh token that means its fate is unknown. Errors that are not
 * transport failures (an HTTP status, a bad body) say nothing here: false.
 */
export function mayHaveReachedServer(err: unknown): boolean {
  if (!(err instanceof AuthdError) || err.code !== 'HTTP_FAILED') return false;
  const reason = err.data?.['reason'];
  if (reason === 'timeout' || reason === 'aborted') return true;
  if (reason !== 'network') return false;
  const code = err.data?.['code'];
  return typeof code !== 'string' || !NOT_SENT.test(code);
}

/**
 * Makes one request under the policy and reads the (capped) body.
 * @throws AuthdError HTTP_FAILED (network, timeout, size, redirect) or INVALID_RESOURCE (insecure URL).
 */
export async function httpRequest(url: string, request: HttpRequest, policy: HttpPolicy): Promise<HttpResponse> {
  const timeoutMs = policy.timeoutMs ?? HTTP_TIMEOUT_MS;
  const maxBytes = policy.maxBytes ?? MAX_RESPONSE_BYTES;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = policy.signal === undefined ? timeout : AbortSignal.any([timeout, policy.signal]);
  const doFetch = policy.fetch ?? fetch;

  let current = url;
  for (let hop = 0; ; hop += 1) {
    const target = assertSecureUrl(current, request.what, policy.allowInsecureLoopback);
    const where = `${request.what} at ${describeUrl(target)}`;
    const failed = (err: unknown): AuthdError => {
      if (err instanceof AuthdError) return err;
      if (policy.signal?.aborted === true) return httpError(`${where}: request cancelled`, 'aborted', err);
      if (timeout.aborted) return httpError(`${where}: no answer within ${timeoutMs / 1000} s`, 'timeout', err);
      const code = networkCode(err);
      return httpError(`${where}: cannot connect (${code})`, 'network', err, code);
    };

    let response: Response;
    try {
      response = await doFetch(target.href, {
        method: request.method ?? 'GET',
        headers: request.headers ?? {},
        body: request.body ?? null,
        redirect: 'manual',
        signal,
      });
    } catch (err) {
      throw failed(err);
    }

    if (response.status >= 300 && response.status < 400 && request.followSameOriginRedirects === true) {
      await discardBody(response);
      const location = response.headers.get('location');
      if (location === null) throw httpError(`${where}: HTTP ${response.status} without a Location`, 'bad_redirect');
      let next: URL;
      try {
        next = new URL(location, target);
      } catch (err) {
        throw httpError(`${where}: HTTP ${response.status} to an invalid Location`, 'bad_redirect', err);
      }
      // A metadata document is only trusted for the origin it was asked from.
      if (next.origin !== target.origin) {
        throw httpError(`${where} redirects to another origin (${next.origin}); not followed`, 'cross_origin_redirect');
      }
      if (hop >= MAX_REDIRECTS) throw httpError(`${where}: more than ${MAX_REDIRECTS} redirects`, 'too_many_redirects');
      current = next.href;
      continue;
    }

    if (request.discardBody === true) {
      await discardBody(response);
      return { status: response.status, url: target.href, headers: response.headers, body: new Uint8Array(0) };
    }
    let read: BoundedBody;
    try {
      read = await readBoundedBody(response, maxBytes);
    } catch (err) {
      throw failed(err);
    }
    if (!read.ok) throw httpError(`${where}: response larger than ${maxBytes} bytes`, 'too_large');
    return { status: response.status, url: target.href, headers: response.headers, body: read.body };
  }
}

function networkCode(err: unknown): string {
  // undici wraps the system error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }),
  // or its own reason (`bad port`). Duck-typed: errors from another realm fail instanceof.
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return serverText(cause.code, 40);
  if (typeof cause?.message === 'string') return serverText(cause.message, 80);
  const message = (err as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? serverText(message, 80) : 'unknown error';
}

/**
 * Parses a response body that must be one JSON object.
 * @throws AuthdError HTTP_FAILED with reason `not_json`.
 */
export function parseJsonObject(body: Uint8Array, what: string, url: string): Record<string, unknown> {
  const where = `${what} at ${describeUrl(url)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (err) {
    throw httpError(`${where} is not valid JSON`, 'not_json', err);
  }
  if (!isPlainObject(parsed)) throw httpError(`${where} is not a JSON object`, 'not_json');
  return parsed;
}

export type MetadataDocument =
  | { found: true; url: string; json: Record<string, unknown> }
  | { found: false; url: string; status: number };

/**
 * GETs a metadata document (PRM, AS metadata). A non-200 answer is "not found"
 * so the caller can try the next well-known location; a 200 that is not a JSON
 * object is an error.
 */
export async function fetchMetadataDocument(url: string, what: string, policy: HttpPolicy): Promise<MetadataDocument> {
  const response = await httpRequest(url, { what, headers: { accept: 'application/json' }, followSameOriginRedirects: true }, policy);
  if (response.status !== 200) return { found: false, url: response.url, status: response.status };
  return { found: true, url: response.url, json: parseJsonObject(response.body, what, response.url) };
}

/** The request openid-client hands to a customFetch (kept structural so openid-client stays in the three files test/boundaries.test.ts names). */
export interface CustomFetchInit {
  method: string;
  headers: Record<string, string>;
  body?: RequestInit['body'];
  signal?: AbortSignal;
}

/** What a customFetch observer sees of each answer; `body` may hold tokens and must not leave the caller. */
export interface ObservedResponse {
  url: string;
  status: number;
  body: Uint8Array;
}

// Statuses whose Response may not carry a body (the Response constructor throws otherwise).
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A fetch for openid-client's `customFetch`: the same policy as httpRequest
 * (scheme, timeout, size cap, no redirects), and an optional observer that
 * sees the raw bytes, which is how token responses are validated as received
 * rather than after openid-client normalised them.
 */
export function createCustomFetch(
  policy: HttpPolicy,
  what: string,
  observe?: (response: ObservedResponse) => void,
): (url: string, init: CustomFetchInit) => Promise<Response> {
  return async (url, init) => {
    const signals = [init.signal, policy.signal].filter((s): s is AbortSignal => s !== undefined);
    const scoped: HttpPolicy = { ...policy };
    if (signals.length > 0) scoped.signal = AbortSignal.any(signals);
    const method = init.method === 'GET' || init.method === 'POST' ? init.method : undefined;
    if (method === undefined) throw httpError(`${what}: unexpected HTTP method ${init.method.slice(0, 16)}`, 'bad_method');
    const response = await httpRequest(url, { what, method, headers: init.headers, body: init.body }, scoped);
    observe?.({ url: response.url, status: response.status, body: response.body });
    const headers = new Headers(response.headers);
    // The body was already decoded and re-framed; stale framing headers would mislead.
    headers.delete('content-encoding');
    headers.delete('content-length');
    headers.delete('transfer-encoding');
    const body = NULL_BODY_STATUSES.has(response.status) ? null : response.body;
    return new Response(body, { status: response.status, headers });
  };
}
