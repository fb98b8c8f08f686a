/**
 * The wire protocol's login vocabulary: `login` params (browser, device,
 * fixed redirect, machine grants, enterprise IdP), its result and progress
 * events, `login.callback`, and `idp.login` sessions.
 * Types and constants only, no code: validate.ts checks the constants' values.
 */
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
