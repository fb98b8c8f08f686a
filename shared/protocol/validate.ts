/**
 * The only code that turns a decoded frame into a request: the envelope and
 * per-method parameter checks with their field limits. Pure: no I/O, so the
 * daemon and the tests use exactly the same rules.
 */

import { isPlainObject } from './framing.js';
import { LOG_LEVEL_NAMES, PROTOCOL_VERSION, type MethodName, type Request, type RequestId, type WireError } from './types.js';
import { MACHINE_CLIENT_AUTH, MACHINE_GRANTS } from './login-types.js';


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
  'token.get': (p) => onlyKeys(p, ['resource', 'server_url', 'scopes', 'min_ttl']) ?? tokenGetParams(p),
  'dpop.proof': (p) =>
    onlyKeys(p, ['resource', 'server_url', 'scopes', 'min_ttl', 'htm', 'htu', 'nonce']) ??
    tokenGetParams(p) ??
    (typeof p['htm'] === 'string' && HTTP_METHOD.test(p['htm']) ? null : '"htm" must be an HTTP method name, e.g. POST') ??
    (typeof p['htu'] === 'string' ? null : '"htu" is required') ??
    optionalString(p, 'htu', MAX_URL_LENGTH) ??
    (p['nonce'] === undefined || (typeof p['nonce'] === 'string' && DPOP_NONCE.test(p['nonce'])) ? null : `"nonce" must be a DPoP nonce (RFC 9449 §8: at most ${MAX_DPOP_NONCE_LENGTH} printable characters)`),
  'credential.delete': (p) => onlyKeys(p, ['resource', 'server_url']) ?? credentialRef(p),
  login: (p) =>
    onlyKeys(p, ['server_url', 'scopes', 'client_id', 'client_secret', 'client_metadata_url', 'resource', 'insecure_loopback', 'timeout', 'grant', 'client_auth', 'client_key', 'assertion_file', 'idp_issuer', 'device', 'redirect_uri']) ??
    oneOf(p, 'grant', MACHINE_GRANTS) ??
    oneOf(p, 'client_auth', MACHINE_CLIENT_AUTH) ??
    optionalString(p, 'client_key', MAX_CLIENT_KEY_LENGTH) ??
    optionalString(p, 'assertion_file', MAX_PATH_LENGTH) ??
    optionalString(p, 'idp_issuer', MAX_URL_LENGTH) ??
    (typeof p['server_url'] === 'string' ? null : '"server_url" is required') ??
    optionalString(p, 'server_url', MAX_URL_LENGTH) ??
    optionalScopes(p) ??
    optionalString(p, 'client_id', MAX_CLIENT_ID_LENGTH) ??
    optionalString(p, 'client_secret', MAX_CLIENT_SECRET_LENGTH) ??
    optionalString(p, 'client_metadata_url', MAX_URL_LENGTH) ??
    optionalString(p, 'resource', MAX_URL_LENGTH) ??
    loginTiming(p) ??
    (p['device'] === undefined || p['device'] === 'required' || p['device'] === 'preferred' ? null : '"device" must be "required" or "preferred"') ??
    optionalString(p, 'redirect_uri', MAX_URL_LENGTH) ??
    (p['device'] === 'required' && p['redirect_uri'] !== undefined ? 'give "device": "required" or "redirect_uri", not both' : null),
  'idp.login': (p) =>
    onlyKeys(p, ['issuer', 'client_id', 'client_secret', 'id_token', 'refresh_token', 'scopes', 'insecure_loopback', 'timeout']) ??
    (typeof p['issuer'] === 'string' && typeof p['client_id'] === 'string' ? null : '"issuer" and "client_id" are required') ??
    optionalString(p, 'issuer', MAX_URL_LENGTH) ??
    optionalString(p, 'client_id', MAX_CLIENT_ID_LENGTH) ??
    optionalString(p, 'client_secret', MAX_CLIENT_SECRET_LENGTH) ??
    optionalString(p, 'id_token', MAX_TOKEN_LENGTH) ??
    optionalString(p, 'refresh_token', MAX_TOKEN_LENGTH) ??
    optionalScopes(p) ??
    loginTiming(p),
  'credential.refresh': (p) => onlyKeys(p, ['resource', 'server_url']) ?? credentialRef(p),
  subscribe: (p) => onlyKeys(p, []),
  'log.level': (p) =>
    onlyKeys(p, ['level']) ?? ((LOG_LEVEL_NAMES as readonly unknown[]).includes(p['level']) ? null : `"level" must be one of ${LOG_LEVEL_NAMES.join(', ')}`),
  'audit.list': (p) =>
    onlyKeys(p, ['resource', 'program', 'since', 'limit']) ??
    optionalString(p, 'resource', MAX_URL_LENGTH) ??
    optionalString(p, 'program', MAX_PROGRAM_LENGTH) ??
    (p['since'] === undefined || (Number.isSafeInteger(p['since']) && (p['since'] as number) >= 0) ? null : '"since" must be Unix seconds') ??
    (p['limit'] === undefined || (Number.isSafeInteger(p['limit']) && (p['limit'] as number) >= 1 && (p['limit'] as number) <= MAX_AUDIT_LIMIT)
      ? null
      : `"limit" must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`),
  'policy.show': (p) => onlyKeys(p, []),
  'policy.set': (p) =>
    onlyKeys(p, ['resource', 'server_url', 'mode']) ??
    credentialRef(p) ??
    ((POLICY_MODES as readonly unknown[]).includes(p['mode']) ? null : `"mode" must be one of ${POLICY_MODES.join(', ')}`),
  'policy.allow': (p) =>
    onlyKeys(p, ['resource', 'server_url', 'program', 'for']) ??
    credentialRef(p) ??
    requiredString(p, 'program', MAX_PROGRAM_LENGTH) ??
    (p['for'] === undefined || (Number.isSafeInteger(p['for']) && (p['for'] as number) >= 1 && (p['for'] as number) <= MAX_APPROVAL_SEC)
      ? null
      : `"for" must be a whole number of seconds from 1 to ${MAX_APPROVAL_SEC}`),
  'policy.revoke': (p) => onlyKeys(p, ['resource', 'server_url', 'program']) ?? credentialRef(p) ?? requiredString(p, 'program', MAX_PROGRAM_LENGTH),
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
/** Longest request id accepted; ids are echoed back, so they are bounded too. */
export const MAX_REQUEST_ID_LENGTH = 128;
/** Longest `cursor` accepted: a cursor is a stored resource key. */
export const MAX_CURSOR_LENGTH = 65_536;
/** Longest URL accepted in a request; real resource identifiers are far shorter. */
export const MAX_URL_LENGTH = 2048;
export const MAX_VERSIONS = 16;
export const MAX_CLIENT_NAME_LENGTH = 256;
export const MAX_SCOPES = 64;
export const MAX_SCOPE_LENGTH = 256;
export const MAX_CLIENT_ID_LENGTH = 1024;
export const MAX_CLIENT_SECRET_LENGTH = 4096;
export const MAX_LOGIN_ID_LENGTH = 128;
/** A PEM or JWK private key: an RSA-4096 PKCS#8 PEM is about 3.3 KB. */
export const MAX_CLIENT_KEY_LENGTH = 16_384;
export const MAX_PATH_LENGTH = 4096;
export const MAX_CALLBACK_URL_LENGTH = 8192;
/** Longest ID token or refresh token accepted by `idp.login`. */
export const MAX_TOKEN_LENGTH = 16_384;
export const MAX_LOGIN_TIMEOUT_SEC = 3600;
/** One year: a longer `min_ttl` cannot be meant. */
export const MAX_MIN_TTL_SEC = 86_400 * 365;
/** Longest DPoP nonce accepted from a client (a server's nonce is an opaque short string). */
export const MAX_DPOP_NONCE_LENGTH = 1024;
/** RFC 9449 §8.1: NQCHAR, the characters a nonce may hold. */
const DPOP_NONCE = new RegExp(`^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,${MAX_DPOP_NONCE_LENGTH}}$`);
/** RFC 9110 method token, upper case as sent on the wire. */
const HTTP_METHOD = /^[A-Z]{1,16}$/;
/** Longest program name (an executable path and a script path). */
export const MAX_PROGRAM_LENGTH = 8192;
/** Most audit events one `audit.list` answers (they must fit a frame). */
export const MAX_AUDIT_LIMIT = 2000;
/** Events `audit.list` answers when no limit is given. */
export const AUDIT_DEFAULT_LIMIT = 200;
/** Ten years: a longer approval cannot be meant. */
export const MAX_APPROVAL_SEC = 86_400 * 3650;
export const POLICY_MODES = ['allow', 'confirm', 'deny'] as const;
/** RFC 6749 §3.3 scope-token characters. */
const SCOPE_TOKEN = new RegExp(`^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,${MAX_SCOPE_LENGTH}}$`);

/** `insecure_loopback` and `timeout`, shared by `login` and `idp.login`. */
function loginTiming(p: Record<string, unknown>): string | null {
  if (p['insecure_loopback'] !== undefined && typeof p['insecure_loopback'] !== 'boolean') return '"insecure_loopback" must be a boolean';
  const timeout = p['timeout'];
  if (timeout === undefined || (Number.isSafeInteger(timeout) && (timeout as number) > 0 && (timeout as number) <= MAX_LOGIN_TIMEOUT_SEC)) return null;
  return `"timeout" must be a whole number of seconds between 1 and ${MAX_LOGIN_TIMEOUT_SEC}`;
}

function tokenGetParams(p: Record<string, unknown>): string | null {
  return (
    credentialRef(p) ??
    optionalScopes(p) ??
    (p['min_ttl'] === undefined || (Number.isSafeInteger(p['min_ttl']) && (p['min_ttl'] as number) >= 0 && (p['min_ttl'] as number) <= MAX_MIN_TTL_SEC)
      ? null
      : `"min_ttl" must be a whole number of seconds from 0 to ${MAX_MIN_TTL_SEC}`)
  );
}

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

function oneOf(p: Record<string, unknown>, key: string, allowed: readonly string[]): string | null {
  const value = p[key];
  if (value === undefined || (typeof value === 'string' && allowed.includes(value))) return null;
  return `"${key}" must be one of ${allowed.join(', ')}`;
}

function requiredString(p: Record<string, unknown>, key: string, max: number): string | null {
  return p[key] === undefined ? `"${key}" is required` : optionalString(p, key, max);
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
