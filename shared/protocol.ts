/**
 * The mcpauthd wire protocol: what travels over the Unix socket, and the only
 * code that turns bytes into requests. Pure: no I/O, so both sides and the
 * tests use exactly the same rules. docs/protocol.md is the prose version.
 *
 * Framing is node-ipc's: each frame is the UTF-8 JSON object
 * `{"type": <event>, "data": <payload>}` followed by one form feed (0x0C).
 * JSON.stringify escapes U+000C inside strings, so a writer that only uses
 * encodeFrame() cannot produce a broken or injected frame.
 */

export const PROTOCOL_VERSION = 1;
/** Largest frame either side accepts, delimiter excluded. Tokens are small; this bounds memory per connection. */
export const MAX_FRAME_BYTES = 64 * 1024;
export const FRAME_DELIMITER = '\f';
/** Longest request id accepted; ids are echoed back, so they are bounded too. */
export const MAX_REQUEST_ID_LENGTH = 128;

/** node-ipc event names. The daemon's `assured` parser allows exactly these. */
export const EVENT_REQUEST = 'request';
export const EVENT_RESPONSE = 'response';
export const EVENT_NOTIFY = 'event';
export const ALLOWED_EVENTS: readonly string[] = [EVENT_REQUEST, EVENT_RESPONSE, EVENT_NOTIFY];

/** Error codes the daemon may put on the wire. Documented in docs/protocol.md. */
export type WireErrorCode =
  | 'invalid_request'
  | 'unsupported_method'
  | 'unsupported_version'
  | 'not_found'
  | 'needs_login'
  | 'insufficient_scope'
  | 'expired'
  | 'busy'
  | 'login_failed'
  | 'refresh_failed'
  | 'timeout'
  | 'internal';

export const WIRE_ERROR_CODES: ReadonlySet<string> = new Set<WireErrorCode>([
  'invalid_request', 'unsupported_method', 'unsupported_version', 'not_found', 'needs_login',
  'insufficient_scope', 'expired', 'busy', 'login_failed', 'refresh_failed', 'timeout', 'internal',
]);

/**
 * Why an operation failed, in `error.data.reason`: on `login_failed` over the
 * wire, and on the local HTTP_FAILED / DISCOVERY_FAILED / OAUTH_FAILED errors
 * a login or refresh is built from. Programs branch on it, so it is a closed
 * list, documented in docs/protocol.md (Error codes); a new reason is added
 * here and there together. A client may meet a reason from a newer daemon:
 * treat one it does not know like the error code alone.
 */
export const FAILURE_REASONS = [
  // Outbound HTTP (HTTP_FAILED).
  'network', 'timeout', 'aborted', 'too_large', 'not_json', 'bad_redirect', 'cross_origin_redirect',
  'too_many_redirects', 'bad_method', 'unexpected_status', 'insecure', 'invalid_response', 'interrupted',
  // Discovery (DISCOVERY_FAILED).
  'not_found', 'no_metadata', 'invalid_metadata', 'resource_mismatch', 'issuer_mismatch',
  'no_authorization_server', 'insecure_endpoint',
  // Client registration and the token endpoint (OAUTH_FAILED).
  'client_secret_required', 'unsupported_auth_method', 'cimd_unsupported', 'invalid_client_metadata_url',
  'registration_unsupported', 'registration_failed', 'pkce_unsupported', 'invalid_client', 'oauth_error',
  'authorization_error', 'invalid_token_response', 'unsupported_token_type', 'invalid_expires_in',
  'audience_mismatch', 'revocation_unsupported',
  // The authorization callback (OAUTH_FAILED).
  'state_mismatch', 'iss_mismatch', 'invalid_callback', 'start_reused',
  // A login failure with no more specific reason, by the kind of local error.
  'invalid_url', 'http_failed', 'discovery_failed', 'oauth_failed', 'internal',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

export type CredentialState = 'valid' | 'expiring' | 'expired' | 'refreshing' | 'needs_login' | 'error';

/** Selects one credential: by the resource it was issued for, or by an MCP server URL it was obtained for. */
export interface CredentialRef {
  resource?: string;
  server_url?: string;
}

export interface TokenGetParams extends CredentialRef {
  /** Scopes the caller needs; each must have been granted. */
  scopes?: string[];
  /** Seconds the token must still be valid for; a shorter-lived token is refreshed first. */
  min_ttl?: number;
}

export interface TokenGetResult {
  access_token: string;
  token_type: 'Bearer';
  /** Unix seconds, or null when the authorization server did not say. */
  expires_at: number | null;
  resource: string;
  scopes: string[];
}

/** What `status` shows of a credential: never a token. */
export interface CredentialSummary {
  resource: string;
  server_urls: string[];
  issuer: string;
  client_id: string;
  scopes: string[];
  state: CredentialState;
  expires_at: number | null;
  refresh_at: number | null;
  has_refresh_token: boolean;
  last_refresh_at: number | null;
  next_attempt_at: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** How the daemon checks who connects (docs/security.md). */
export type PeerCheckMode = 'peercred' | 'getpeereid' | 'directory-permissions-only';

/** What the daemon verified about core dumps at start (daemon/process-hardening.ts). */
export interface CoreDumpProtection {
  /** RLIMIT_CORE read back as 0 (soft and hard). */
  core_limit_zero: boolean;
  /** Linux: the process's dumpable flag after PR_SET_DUMPABLE 0; null where there is no such flag. */
  dumpable: boolean | null;
  /** Why something could not be turned off; null when all went well. */
  reason: string | null;
}

export interface DaemonInfo {
  pid: number;
  version: string;
  protocol: number;
  socket: string;
  home: string;
  started_at: number;
  peer_check: PeerCheckMode;
  /** Absent from daemons older than this field and from daemons started in-process (tests). */
  core_dumps?: CoreDumpProtection;
  /**
   * How the login's loopback callback tells the user from other local users:
   * `proc_net_tcp` (Linux: only this uid and root), `state_only` (no owner
   * information on this platform: protected by the OAuth `state` alone).
   */
  callback_peer_check?: CallbackPeerCheckMode;
}

export type CallbackPeerCheckMode = 'proc_net_tcp' | 'state_only';

export interface StatusParams {
  /** Where this page starts: the previous page's `next_cursor` (opaque). Not with `offset`. */
  cursor?: string;
  /**
   * Older paging by position, still served: a login or logout between pages
   * can shift it, so a credential may be skipped or repeated. Use `cursor`.
   */
  offset?: number;
}

/**
 * One page of status. Credentials come in pages that fit a frame (thousands
 * of them do not); `next_offset` is null on the last page.
 */
export interface StatusResult {
  daemon: DaemonInfo;
  credentials: CredentialSummary[];
  total: number;
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
  /** Only on pages asked for without a cursor (offset paging); null otherwise and on the last page. */
  next_offset: number | null;
}

/** Longest `cursor` accepted: a cursor is a stored resource key. */
export const MAX_CURSOR_LENGTH = 65_536;

/** Bytes of credential summaries the daemon puts in one status page, well under MAX_FRAME_BYTES. */
export const STATUS_PAGE_BYTES = 40 * 1024;

export interface HelloParams {
  versions: number[];
  client?: string;
}

export interface HelloResult {
  protocol: number;
  version: string;
  pid: number;
}

export interface DeleteResult {
  deleted: boolean;
  resource: string | null;
  /** Every token the credential held was revoked at the authorization server (RFC 7009). */
  revoked: boolean;
  /** The tokens the authorization server revoked, in the order they were sent. */
  revoked_tokens: ('refresh_token' | 'access_token')[];
  /** Unix seconds until which the access token stays valid when it was not revoked; null when it was, or its expiry is unknown. */
  access_token_expires_at: number | null;
  /** Why revocation did not happen or failed; the credential is deleted anyway. */
  revocation_note: string | null;
}

export interface LoginParams {
  /** The MCP server to log into (its Streamable HTTP / SSE endpoint URL). */
  server_url: string;
  /** Scopes to request instead of the discovered ones (checklist S1). */
  scopes?: string[];
  /** Pre-registered client (checklist C1). */
  client_id?: string;
  client_secret?: string;
  /** Client ID Metadata Document URL to use as client_id (checklist C2). */
  client_metadata_url?: string;
  /** Only for servers without protected resource metadata; never overrides metadata that exists. */
  resource?: string;
  /** Allow plain http to loopback hosts (local testing only, checklist A5). */
  insecure_loopback?: boolean;
  /** Seconds to wait for the user to approve; default 300. */
  timeout?: number;
}

export interface LoginResult {
  resource: string;
  server_url: string;
  issuer: string;
  scopes: string[];
  expires_at: number | null;
  has_refresh_token: boolean;
}

/**
 * Progress of a login, sent as `event` frames with `request_id` set to the
 * login request's id, in this order: discovered, registered, authorize_url
 * (the client opens it in a browser), then the final response.
 */
export interface LoginProgress {
  stage: 'discovered' | 'registered' | 'authorize_url' | 'exchanging';
  login_id: string;
  /** The full authorization URL (carries `state`): for a browser on another machine only. */
  authorize_url?: string;
  /**
   * Single-use http://127.0.0.1:PORT/start/<nonce> that redirects to authorize_url: what a
   * browser on this machine is started with, so no state or challenge is in any argv.
   */
  start_url?: string;
  resource?: string;
  issuer?: string;
}

export interface LoginCallbackParams {
  login_id: string;
  /** The full redirect URL the browser ended on, pasted by the user (browser on another machine). */
  url: string;
}

export interface RefreshResult {
  resource: string;
  expires_at: number | null;
  scopes: string[];
}

/** What changed, in a `credential.updated` event sent to subscribers. */
export interface CredentialUpdated {
  resource: string;
  change: 'refreshed' | 'needs_login' | 'deleted' | 'logged_in' | 'refresh_failed';
  state: CredentialState | 'deleted';
  expires_at: number | null;
}

export const EVENT_CREDENTIAL_UPDATED = 'credential.updated';
export const EVENT_LOGIN_PROGRESS = 'login.progress';

export const LOG_LEVEL_NAMES = ['error', 'warn', 'info', 'debug'] as const;

/** `log.level`: the running daemon's log level, changed without a restart. */
export interface LogLevelParams {
  level: (typeof LOG_LEVEL_NAMES)[number];
}

export interface LogLevelResult {
  level: LogLevelParams['level'];
  previous: LogLevelParams['level'];
}

/**
 * Every method: its params and its result. Adding a method here without a
 * handler in daemon/dispatch.ts fails to compile.
 */
export interface Methods {
  hello: { params: HelloParams; result: HelloResult };
  status: { params: StatusParams; result: StatusResult };
  'token.get': { params: TokenGetParams; result: TokenGetResult };
  'credential.delete': { params: CredentialRef; result: DeleteResult };
  login: { params: LoginParams; result: LoginResult };
  'login.callback': { params: LoginCallbackParams; result: { accepted: boolean } };
  'credential.refresh': { params: CredentialRef; result: RefreshResult };
  subscribe: { params: Record<string, never>; result: { subscribed: true } };
  'log.level': { params: LogLevelParams; result: LogLevelResult };
}

export type MethodName = keyof Methods;
export type RequestId = string | number;

export type Request = {
  [M in MethodName]: { v: number; id: RequestId; method: M; params: Methods[M]['params'] };
}[MethodName];

export interface WireError {
  code: WireErrorCode;
  message: string;
  data?: Record<string, unknown>;
}

export type Response =
  | { v: number; id: RequestId | null; ok: true; result: unknown }
  | { v: number; id: RequestId | null; ok: false; error: WireError };

export interface Notification {
  v: number;
  event: string;
  request_id?: RequestId;
  data: Record<string, unknown>;
}

// ---------------------------------------------------------------- framing

export class FrameError extends Error {
  readonly code: 'frame_too_large' | 'invalid_json' | 'invalid_envelope';
  constructor(code: FrameError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** A frame's JSON, checked against the cap and ended with the delimiter: the last step of every encoder here. */
function sealFrame(frame: string): string {
  if (exceedsFrameCap(frame)) {
    throw new FrameError('frame_too_large', `frame of ${Buffer.byteLength(frame)} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  return frame + FRAME_DELIMITER;
}

export function encodeFrame(type: string, data: unknown): string {
  const frame = JSON.stringify({ type, data });
  return sealFrame(frame);
}

/** What encodeFrame(EVENT_REQUEST, …) writes before the request's id. */
const REQUEST_FRAME_HEAD = `{"type":${JSON.stringify(EVENT_REQUEST)},"data":{"v":${PROTOCOL_VERSION},"id":`;

/**
 * encodeFrame(EVENT_REQUEST, { v: PROTOCOL_VERSION, id, method, params }),
 * byte for byte (test/shared/protocol.test.ts compares them), for the client's
 * hot path: serializing the envelope around the params cost about as much as
 * the params themselves. Only JSON.stringify output goes into it, so a form
 * feed in a value is escaped as in encodeFrame, and the same cap applies.
 */
export function encodeRequestFrame<M extends MethodName>(id: number, method: M, params: Methods[M]['params']): string {
  // JSON.stringify gives undefined for what it would leave out of an object (a
  // toJSON that returns nothing): that, and anything else the client never
  // sends (an id that is not a counter's), takes the general path.
  const paramsJson: string | undefined = typeof params === 'object' && params !== null ? JSON.stringify(params) : undefined;
  if (paramsJson === undefined || !Number.isSafeInteger(id)) {
    return encodeFrame(EVENT_REQUEST, { v: PROTOCOL_VERSION, id, method, params });
  }
  const frame = `${REQUEST_FRAME_HEAD}${id},"method":${JSON.stringify(method)},"params":${paramsJson}}}`;
  return sealFrame(frame);
}

/** What a successful response frame holds before its id. */
const RESPONSE_FRAME_HEAD = `{"type":${JSON.stringify(EVENT_RESPONSE)},"data":{"v":${PROTOCOL_VERSION},"id":`;

/**
 * encodeFrame(EVENT_RESPONSE, { v: PROTOCOL_VERSION, id, ok: true, result }),
 * byte for byte, for a result that is already JSON (daemon/encoded-result.ts):
 * the daemon's hot path splices the token answer in instead of serializing it
 * again. `resultJson` must come from JSON.stringify (or be assembled from its
 * output), which escapes the form feed that ends a frame.
 */
export function encodeResultFrame(id: RequestId, resultJson: string): string {
  const frame = `${RESPONSE_FRAME_HEAD}${JSON.stringify(id)},"ok":true,"result":${resultJson}}}`;
  return sealFrame(frame);
}

/**
 * Splits a byte stream into frames. A partial frame longer than the cap is an
 * error at once: a peer cannot make us buffer more than MAX_FRAME_BYTES.
 */
export class FrameReader {
  #buffer = '';

  push(chunk: string): { type: string; data: unknown }[] {
    // Frames are cut out of `text` by index: the unconsumed tail is sliced once
    // per push, not once per frame, and the common case (a chunk that is exactly
    // one whole frame) keeps nothing at all.
    const text = this.#buffer === '' ? chunk : this.#buffer + chunk;
    const frames: { type: string; data: unknown }[] = [];
    let start = 0;
    try {
      let end = text.indexOf(FRAME_DELIMITER);
      while (end !== -1) {
        const raw = text.slice(start, end);
        start = end + 1;
        frames.push(decodeFrame(raw));
        end = text.indexOf(FRAME_DELIMITER, start);
      }
    } finally {
      // Also on a bad frame: what follows it stays buffered, as it always has.
      this.#buffer = start === 0 ? text : text.slice(start);
    }
    if (exceedsFrameCap(this.#buffer)) {
      throw new FrameError('frame_too_large', `partial frame exceeds ${MAX_FRAME_BYTES} bytes`);
    }
    return frames;
  }

  get pendingBytes(): number {
    return Buffer.byteLength(this.#buffer);
  }
}

function decodeFrame(raw: string): { type: string; data: unknown } {
  if (exceedsFrameCap(raw)) throw new FrameError('frame_too_large', `frame exceeds ${MAX_FRAME_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new FrameError('invalid_json', 'frame is not valid JSON');
  }
  if (!isPlainObject(parsed) || typeof parsed['type'] !== 'string') {
    throw new FrameError('invalid_envelope', 'frame must be an object with a string "type"');
  }
  return { type: parsed['type'], data: parsed['data'] };
}

/**
 * Is the UTF-8 form of `text` longer than MAX_FRAME_BYTES? Exactly
 * `Buffer.byteLength(text) > MAX_FRAME_BYTES`, but it only counts bytes when
 * the answer is in doubt: each UTF-16 unit takes at least 1 and at most 3 bytes
 * (a surrogate pair, 2 units, takes 4; a lone surrogate 3, as U+FFFD), so a
 * string of at most MAX_FRAME_BYTES / 3 units is under the cap and one of more
 * than MAX_FRAME_BYTES units is over it. Tokens are far below the lower bound.
 */
export function exceedsFrameCap(text: string): boolean {
  if (text.length * 3 <= MAX_FRAME_BYTES) return false;
  if (text.length > MAX_FRAME_BYTES) return true;
  return Buffer.byteLength(text) > MAX_FRAME_BYTES;
}

// ---------------------------------------------------------------- requests

export type ParsedRequest =
  | { ok: true; request: Request }
  | { ok: false; id: RequestId | null; error: WireError };

/**
 * Validates a request payload. Unknown fields inside `params` are rejected
 * rather than ignored: a misspelled `min_ttl` silently dropped would hand out a
 * token about to expire, and a credential daemon fails closed. Unknown fields
 * on the envelope itself are ignored so that later versions can add metadata.
 */
export function parseRequest(data: unknown): ParsedRequest {
  if (!isPlainObject(data)) return invalid(null, 'request must be a JSON object');
  const id = data['id'];
  if (!isRequestId(id)) return invalid(null, `"id" must be a string of at most ${MAX_REQUEST_ID_LENGTH} characters or a safe integer`);
  if (data['v'] !== PROTOCOL_VERSION) {
    return { ok: false, id, error: { code: 'unsupported_version', message: `protocol version ${String(data['v'])} is not supported; this daemon speaks ${PROTOCOL_VERSION}` } };
  }
  const method = data['method'];
  if (typeof method !== 'string') return invalid(id, '"method" must be a string');
  const rawParams = data['params'] ?? {};
  if (!isPlainObject(rawParams)) return invalid(id, '"params" must be an object');
  const validate = PARAM_VALIDATORS[method as MethodName];
  if (!Object.hasOwn(PARAM_VALIDATORS, method) || validate === undefined) {
    return { ok: false, id, error: { code: 'unsupported_method', message: `unknown method "${method.slice(0, 64)}"` } };
  }
  const problem = validate(rawParams);
  if (problem !== null) return invalid(id, problem);
  return { ok: true, request: { v: PROTOCOL_VERSION, id, method, params: rawParams } as Request };
}

type Validator = (params: Record<string, unknown>) => string | null;

const PARAM_VALIDATORS: { [M in MethodName]: Validator } = {
  hello: (p) =>
    onlyKeys(p, ['versions', 'client']) ??
    (Array.isArray(p['versions']) && p['versions'].length > 0 && p['versions'].length <= MAX_VERSIONS && p['versions'].every((n) => Number.isSafeInteger(n))
      ? null
      : `"versions" must be a non-empty array of at most ${MAX_VERSIONS} integers`) ??
    optionalString(p, 'client', MAX_CLIENT_NAME_LENGTH),
  status: (p) =>
    onlyKeys(p, ['offset', 'cursor']) ??
    (p['offset'] !== undefined && p['cursor'] !== undefined ? 'give "cursor" or "offset", not both' : null) ??
    optionalString(p, 'cursor', MAX_CURSOR_LENGTH) ??
    (p['offset'] === undefined || (Number.isSafeInteger(p['offset']) && (p['offset'] as number) >= 0) ? null : '"offset" must be a whole number, at least 0'),
  'token.get': (p) =>
    onlyKeys(p, ['resource', 'server_url', 'scopes', 'min_ttl']) ??
    credentialRef(p) ??
    optionalScopes(p) ??
    (p['min_ttl'] === undefined || (Number.isSafeInteger(p['min_ttl']) && (p['min_ttl'] as number) >= 0 && (p['min_ttl'] as number) <= MAX_MIN_TTL_SEC)
      ? null
      : `"min_ttl" must be a whole number of seconds from 0 to ${MAX_MIN_TTL_SEC}`),
  'credential.delete': (p) => onlyKeys(p, ['resource', 'server_url']) ?? credentialRef(p),
  login: (p) =>
    onlyKeys(p, ['server_url', 'scopes', 'client_id', 'client_secret', 'client_metadata_url', 'resource', 'insecure_loopback', 'timeout']) ??
    (typeof p['server_url'] === 'string' ? null : '"server_url" is required') ??
    optionalString(p, 'server_url', MAX_URL_LENGTH) ??
    optionalScopes(p) ??
    optionalString(p, 'client_id', MAX_CLIENT_ID_LENGTH) ??
    optionalString(p, 'client_secret', MAX_CLIENT_SECRET_LENGTH) ??
    optionalString(p, 'client_metadata_url', MAX_URL_LENGTH) ??
    optionalString(p, 'resource', MAX_URL_LENGTH) ??
    (p['insecure_loopback'] === undefined || typeof p['insecure_loopback'] === 'boolean' ? null : '"insecure_loopback" must be a boolean') ??
    (p['timeout'] === undefined || (Number.isSafeInteger(p['timeout']) && (p['timeout'] as number) > 0 && (p['timeout'] as number) <= MAX_LOGIN_TIMEOUT_SEC)
      ? null
      : `"timeout" must be a whole number of seconds between 1 and ${MAX_LOGIN_TIMEOUT_SEC}`),
  'credential.refresh': (p) => onlyKeys(p, ['resource', 'server_url']) ?? credentialRef(p),
  subscribe: (p) => onlyKeys(p, []),
  'log.level': (p) =>
    onlyKeys(p, ['level']) ?? ((LOG_LEVEL_NAMES as readonly unknown[]).includes(p['level']) ? null : `"level" must be one of ${LOG_LEVEL_NAMES.join(', ')}`),
  'login.callback': (p) =>
    onlyKeys(p, ['login_id', 'url']) ??
    (typeof p['login_id'] === 'string' && typeof p['url'] === 'string' ? null : '"login_id" and "url" are required') ??
    optionalString(p, 'login_id', MAX_LOGIN_ID_LENGTH) ??
    optionalString(p, 'url', MAX_CALLBACK_URL_LENGTH),
};

/**
 * Request field limits (docs/protocol.md "Field limits"; test/protocol-doc.test.ts
 * checks the table against these). Lengths are in UTF-16 code units, as
 * JavaScript's `length` counts them.
 */
/** Longest URL accepted in a request; real resource identifiers are far shorter. */
export const MAX_URL_LENGTH = 2048;
export const MAX_VERSIONS = 16;
export const MAX_CLIENT_NAME_LENGTH = 256;
export const MAX_SCOPES = 64;
export const MAX_SCOPE_LENGTH = 256;
export const MAX_CLIENT_ID_LENGTH = 1024;
export const MAX_CLIENT_SECRET_LENGTH = 4096;
export const MAX_LOGIN_ID_LENGTH = 128;
export const MAX_CALLBACK_URL_LENGTH = 8192;
export const MAX_LOGIN_TIMEOUT_SEC = 3600;
/** One year: a longer `min_ttl` cannot be meant. */
export const MAX_MIN_TTL_SEC = 86_400 * 365;
/** RFC 6749 §3.3 scope-token characters. */
const SCOPE_TOKEN = new RegExp(`^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,${MAX_SCOPE_LENGTH}}$`);

function credentialRef(p: Record<string, unknown>): string | null {
  const hasResource = p['resource'] !== undefined;
  const hasServer = p['server_url'] !== undefined;
  if (hasResource === hasServer) return 'exactly one of "resource" or "server_url" is required';
  return optionalString(p, 'resource', MAX_URL_LENGTH) ?? optionalString(p, 'server_url', MAX_URL_LENGTH);
}

function optionalScopes(p: Record<string, unknown>): string | null {
  const scopes = p['scopes'];
  if (scopes === undefined) return null;
  if (!Array.isArray(scopes) || scopes.length > MAX_SCOPES || !scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s))) {
    return '"scopes" must be an array of scope tokens (RFC 6749 §3.3)';
  }
  return null;
}

function optionalString(p: Record<string, unknown>, key: string, max: number): string | null {
  const value = p[key];
  if (value === undefined) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) return `"${key}" must be a non-empty string of at most ${max} characters`;
  return null;
}

function onlyKeys(p: Record<string, unknown>, allowed: readonly string[]): string | null {
  for (const key of Object.keys(p)) {
    if (!allowed.includes(key)) return `unknown parameter "${key.slice(0, 64)}"`;
  }
  return null;
}

function invalid(id: RequestId | null, message: string): ParsedRequest {
  return { ok: false, id, error: { code: 'invalid_request', message } };
}

function isRequestId(id: unknown): id is RequestId {
  return (typeof id === 'string' && id.length > 0 && id.length <= MAX_REQUEST_ID_LENGTH) || Number.isSafeInteger(id);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
