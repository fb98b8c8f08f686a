/**
 * The mcpauthd wire protocol's vocabulary: protocol version, event names,
 * error codes and failure reasons, status and daemon info, the frames, and the
 * Methods map tying each method to its params and result. The params and
 * results of credentials, logins, audit and policy live beside this file
 * (credential-types.ts, login-types.ts, audit-policy-types.ts).
 * Types and constants only, no code: both sides and the tests share them.
 * docs/protocol.md is the prose version; framing.ts puts these on the wire,
 * validate.ts checks what comes off it.
 */
import type { CredentialRef, CredentialSummary, DeleteResult, DpopProofParams, DpopProofResult, RefreshResult, TokenGetParams, TokenGetResult } from './credential-types.js';
import type { IdpLoginParams, IdpLoginResult, IdpSessionSummary, LoginCallbackParams, LoginParams, LoginResult } from './login-types.js';
import type { AuditListParams, AuditListResult, PolicyAllowParams, PolicyRevokeParams, PolicySetParams, PolicyShowResult, ResourcePolicy } from './audit-policy-types.js';

export const PROTOCOL_VERSION = 1;

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
  | 'denied'
  | 'internal';

export const WIRE_ERROR_CODES: ReadonlySet<string> = new Set<WireErrorCode>([
  'invalid_request', 'unsupported_method', 'unsupported_version', 'not_found', 'needs_login',
  'insufficient_scope', 'expired', 'busy', 'login_failed', 'refresh_failed', 'timeout', 'denied', 'internal',
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
  // Logins without a person (issue 16).
  'client_key_invalid', 'assertion_unreadable', 'grant_unsupported',
  // The authorization callback (OAUTH_FAILED).
  'state_mismatch', 'iss_mismatch', 'invalid_callback', 'start_reused',
  // The redirect and the device authorization grant (issue 16).
  'invalid_redirect_uri', 'port_in_use', 'device_unsupported', 'device_expired', 'access_denied',
  // A login failure with no more specific reason, by the kind of local error.
  'invalid_url', 'http_failed', 'discovery_failed', 'oauth_failed', 'internal',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

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
  /** Absent from daemons older than this field. */
  encryption?: EncryptionAtRest;
}

export type CallbackPeerCheckMode = 'proc_net_tcp' | 'state_only';

/** Where the daemon's database key lives (shared/key-providers.ts says what each protects against). */
export type KeyProviderName = 'keychain' | 'key_file';

/** How the database's secret columns are encrypted at rest (issue 17; docs/security.md). */
export interface EncryptionAtRest {
  /** Where the database key lives: `keychain` (the OS keychain) or `key_file` (a 0600 file in the config directory). */
  provider: KeyProviderName;
  /** The keychain entry or the key file's path; never the key. */
  location: string;
  /** Providers tried before this one on the start that chose it, and why each was passed over. */
  passed_over?: string[];
}

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
  /** Sessions at company identity providers and the credentials that depend on them (first page only). */
  idp_sessions?: IdpSessionSummary[];
}

export interface HelloParams {
  versions: number[];
  client?: string;
}

export interface HelloResult {
  protocol: number;
  version: string;
  pid: number;
}

/** Event names of `event` frames (docs/protocol.md). */
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
  'dpop.proof': { params: DpopProofParams; result: DpopProofResult };
  'credential.delete': { params: CredentialRef; result: DeleteResult };
  login: { params: LoginParams; result: LoginResult };
  'login.callback': { params: LoginCallbackParams; result: { accepted: boolean } };
  'idp.login': { params: IdpLoginParams; result: IdpLoginResult };
  'credential.refresh': { params: CredentialRef; result: RefreshResult };
  subscribe: { params: Record<string, never>; result: { subscribed: true } };
  'log.level': { params: LogLevelParams; result: LogLevelResult };
  'audit.list': { params: AuditListParams; result: AuditListResult };
  'policy.show': { params: Record<string, never>; result: PolicyShowResult };
  'policy.set': { params: PolicySetParams; result: ResourcePolicy };
  'policy.allow': { params: PolicyAllowParams; result: ResourcePolicy };
  'policy.revoke': { params: PolicyRevokeParams; result: ResourcePolicy & { revoked: boolean } };
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
