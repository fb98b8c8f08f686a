/**
 * The mcpauthd wire protocol's vocabulary: protocol version, event names,
 * methods with their params and results, error codes and failure reasons.
 * Types and constants only, no code: both sides and the tests share them.
 * docs/protocol.md is the prose version; framing.ts puts these on the wire,
 * validate.ts checks what comes off it.
 */
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
  /**
   * `DPoP`: the token is bound to a key only the daemon holds (RFC 9449); send
   * it as `Authorization: DPoP <token>` with a proof from `dpop.proof` on
   * every request. Older daemons only answer `Bearer`.
   */
  token_type: 'Bearer' | 'DPoP';
  /** Unix seconds, or null when the authorization server did not say. */
  expires_at: number | null;
  resource: string;
  scopes: string[];
}

/** What `status` shows of a credential: never a token. */
/** `dpop.proof`: a fresh DPoP proof for one request to the credential's server (RFC 9449 §4, §7). */
export interface DpopProofParams extends TokenGetParams {
  /** The request's HTTP method, e.g. `POST`. */
  htm: string;
  /** The request's URL; it must be on the credential's server (its origin). Query and fragment are left out of the proof. */
  htu: string;
  /** The resource server's latest `DPoP-Nonce`, when it sent one. */
  nonce?: string;
}

export interface DpopProofResult {
  access_token: string;
  token_type: 'DPoP';
  /** The proof JWT for the `DPoP` header: one request only (its `jti` is fresh). */
  proof: string;
  /** Unix seconds, or null when the authorization server did not say. */
  expires_at: number | null;
  resource: string;
  scopes: string[];
}

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
  /** Programs (as `mcpauthd audit` names them) that used this credential in the last day; absent from older daemons and with audit off. */
  programs_last_day?: string[];
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
  /**
   * A login without a person (issue 16): `client_credentials` (MCP extension
   * io.modelcontextprotocol/oauth-client-credentials) or `jwt_bearer` (RFC 7523
   * §2.1, workload identity). Absent: the browser's authorization code.
   */
  grant?: MachineGrant;
  /** How a machine login's client authenticates; default `private_key_jwt` for client_credentials, `none` for jwt_bearer, `client_secret_basic` whenever a secret is given. */
  client_auth?: MachineClientAuth;
  /** A private key (PKCS#8 PEM or JWK JSON) already registered for `client_id`, for private_key_jwt; without it the daemon keeps (or makes) its own. A secret: never in argv. */
  client_key?: string;
  /** jwt_bearer: absolute path of the file holding the assertion the platform gives this machine; read again at every renewal. */
  assertion_file?: string;
  /**
   * Enterprise-managed authorization: log in without a browser with the
   * session at this identity provider (from `idp.login`): token exchange for
   * an ID-JAG there, then the jwt-bearer grant at the server's AS.
   */
  idp_issuer?: string;
  /**
   * The device authorization grant (RFC 8628): 'required' uses it or fails;
   * 'preferred' (a client without a display) uses it when the authorization
   * server offers it and the browser login otherwise. Absent: the browser login.
   */
  device?: 'required' | 'preferred';
  /**
   * A fixed loopback redirect URI (http://127.0.0.1:PORT/path or
   * http://localhost:PORT/path) for a client registered with exactly that one.
   * Kept with the credential: a later login without it uses it again.
   */
  redirect_uri?: string;
}

/**
 * `idp.login`: a session at a company identity provider, once. Without
 * `id_token` the daemon runs an OIDC authorization code login with PKCE (the
 * same progress events as `login`); with it, the ID token (and refresh token)
 * obtained elsewhere are checked and kept.
 */
export interface IdpLoginParams {
  issuer: string;
  /** mcpauthd's client at the IdP (enterprise IdPs pre-register it). */
  client_id: string;
  client_secret?: string;
  id_token?: string;
  refresh_token?: string;
  /** Extra scopes besides `openid` (and `offline_access` where the IdP lists it). */
  scopes?: string[];
  insecure_loopback?: boolean;
  timeout?: number;
}

export interface IdpLoginResult {
  issuer: string;
  client_id: string;
  /** The ID token's `sub`. */
  subject: string | null;
  /** Unix seconds, or null when the ID token has no `exp`. */
  id_token_expires_at: number | null;
  has_refresh_token: boolean;
}

/** What `status` shows of an IdP session: never a token. */
export interface IdpSessionSummary extends IdpLoginResult {
  /** Resources of the credentials obtained with this session. */
  credentials: string[];
}

export const MACHINE_GRANTS = ['client_credentials', 'jwt_bearer'] as const;
export type MachineGrant = (typeof MACHINE_GRANTS)[number];
export const MACHINE_CLIENT_AUTH = ['private_key_jwt', 'client_secret_basic', 'none'] as const;
export type MachineClientAuth = (typeof MACHINE_CLIENT_AUTH)[number];

/** The public half of a client key (RFC 7517 JWK), to register at the authorization server. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
  [member: string]: string;
}

export interface LoginResult {
  resource: string;
  server_url: string;
  issuer: string;
  scopes: string[];
  expires_at: number | null;
  has_refresh_token: boolean;
  /** private_key_jwt: the public key the client authenticated with (what is registered at the AS). */
  public_jwk?: PublicJwk;
}

/**
 * Progress of a login, sent as `event` frames with `request_id` set to the
 * login request's id, in this order: discovered, registered, authorize_url
 * (the client opens it in a browser), then the final response.
 */
export interface LoginProgress {
  stage: 'discovered' | 'registered' | 'authorize_url' | 'device_code' | 'exchanging' | 'client_key';
  login_id: string;
  /** The full authorization URL (carries `state`): for a browser on another machine only. */
  authorize_url?: string;
  /**
   * Single-use http://127.0.0.1:PORT/start/<nonce> that redirects to authorize_url: what a
   * browser on this machine is started with, so no state or challenge is in any argv.
   */
  start_url?: string;
  /** At `authorize_url`, only when the redirect URI is fixed (its port can be forwarded). */
  redirect_uri?: string;
  /** At `device_code`: where the user goes, the code they enter there, and when it expires (Unix seconds). Never the device code. */
  verification_uri?: string;
  verification_uri_complete?: string;
  user_code?: string;
  expires_at?: number;
  resource?: string;
  issuer?: string;
  /**
   * Stage `client_key` (private_key_jwt, before the token request): the public
   * key to register for `client_id` at `issuer`; `generated` is true when the
   * daemon made the key in this login (it is then not registered yet).
   */
  public_jwk?: PublicJwk;
  client_id?: string;
  generated?: boolean;
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

/** What the audit trail records of one request (issue 18); never a token or anything derived from one. */
export interface AuditEvent {
  /** Unix milliseconds. */
  at: number;
  /** token.get, dpop.proof, login, refresh, logout, or another method that was refused. */
  method: string;
  /** The credential's resource, or what the request named when no credential matched; null when none applies. */
  resource: string | null;
  /** The program the request is attributed to (policy matches this name). */
  program: string;
  /** The connecting process's pid; null when unknown (the scheduler's own refreshes, no peer pid). */
  pid: number | null;
  /** The peer and its parents, nearest first, as program names. */
  chain: string[];
  outcome: 'ok' | 'error' | 'denied';
  /** The wire error code when the outcome is not ok. */
  error_code: string | null;
  /** A refresh's trigger (scheduled, min_ttl, expired, forced); null otherwise. */
  detail: string | null;
  /** How many identical requests (same program, pid, method, resource, outcome) this event stands for: they came between `at` and `last_at` (Unix ms). */
  count: number;
  last_at: number;
}

export interface AuditListParams {
  /** A resource or an MCP server URL: only events of that credential. */
  resource?: string;
  /** Only events attributed to this program (exact name). */
  program?: string;
  /** Unix seconds: only events at or after. */
  since?: number;
  /** Newest first, at most this many (default 200, at most 2000). */
  limit?: number;
}

export interface AuditListResult {
  events: AuditEvent[];
  /** More events matched than `limit`. */
  truncated: boolean;
}

export type PolicyMode = 'allow' | 'confirm' | 'deny';

export interface ProgramApproval {
  program: string;
  /** Unix seconds; null until revoked. */
  expires_at: number | null;
  /** `cli` (policy allow) or `prompt` (approved when asked). */
  source: 'cli' | 'prompt';
  created_at: number;
}

export interface ResourcePolicy {
  resource: string;
  mode: PolicyMode;
  approvals: ProgramApproval[];
}

export interface PolicyShowResult {
  /** Resources without a row here are `allow` (the default). */
  policies: ResourcePolicy[];
}

export interface PolicySetParams extends CredentialRef {
  mode: PolicyMode;
}

export interface PolicyAllowParams extends CredentialRef {
  program: string;
  /** Seconds the approval lasts; absent = until revoked. */
  for?: number;
}

export interface PolicyRevokeParams extends CredentialRef {
  program: string;
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
