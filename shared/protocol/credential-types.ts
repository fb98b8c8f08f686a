/**
 * The wire protocol's credential vocabulary: how a request names a credential,
 * what token.get and dpop.proof serve, what status shows of a credential, and
 * what refresh, logout and the credential.updated event report.
 * Types only, no code. types.ts ties these to methods in its Methods map.
 */
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
  /** Programs (as `mcpauthd audit` names them) that used this credential in the last day; absent from older daemons and with audit off. */
  programs_last_day?: string[];
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
