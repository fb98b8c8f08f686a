/**
 * The only code that turns a decoded frame into a request: the envelope and
 * per-method parameter checks with their field limits. Pure: no I/O, so the
 * daemon and the tests use exactly the same rules.
 */

import { isPlainObject } from './framing.js';
import { LOG_LEVEL_NAMES, PROTOCOL_VERSION, type MethodName, type Request, type RequestId, type WireError } from './types.js';


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
export const MAX_CALLBACK_URL_LENGTH = 8192;
export const MAX_LOGIN_TIMEOUT_SEC = 3600;
/** One year: a longer `min_ttl` cannot be meant. */
export const MAX_MIN_TTL_SEC = 86_400 * 365;
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
