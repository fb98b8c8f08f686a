/**
 * The store's records as the rest of the daemon sees them: credentials,
 * client registrations and authorization servers, with tokens only inside
 * Secret objects. Types only (and the list of stored states).
 */
import type { Secret } from './secret.js';

/** States kept on disk. `expiring` and `expired` are derived from the clock when read. */
export type StoredState = 'valid' | 'refreshing' | 'needs_login' | 'error';
export const STORED_STATES: readonly StoredState[] = ['valid', 'refreshing', 'needs_login', 'error'];

export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** How a credential was obtained, and so how it is renewed and logged in again. */
export type GrantKind = 'authorization_code' | 'device_code' | 'client_credentials' | 'jwt_bearer' | 'enterprise';
export const GRANT_KINDS: readonly GrantKind[] = ['authorization_code', 'device_code', 'client_credentials', 'jwt_bearer', 'enterprise'];

/**
 * Grants that need no person and so are renewed by running them again instead
 * of a refresh token (daemon/refresh/regrant.ts). The store's due-for-renewal
 * queries (statements.ts) and the matching index (schema.ts) list the same kinds.
 */
export const REGRANT_KINDS: readonly GrantKind[] = ['client_credentials', 'jwt_bearer', 'enterprise'];

/** Whether the daemon can get a new access token for this credential without the user. */
export function isRenewable(record: Pick<CredentialRecord, 'refreshToken' | 'grantKind'>): boolean {
  return record.refreshToken !== null || REGRANT_KINDS.includes(record.grantKind);
}

/**
 * The command that logs this credential in again the same way: a machine
 * login's flags come from its grant kind and login options (never a secret:
 * the secret's file is the user's to name again).
 */
export function reloginCommand(record: Pick<CredentialRecord, 'serverUrls' | 'resource' | 'grantKind' | 'loginOptions' | 'clientId'>): string {
  const base = `mcpauthd login ${record.serverUrls[0] ?? record.resource}`;
  const auth = record.loginOptions?.['client_auth'];
  if (record.grantKind === 'client_credentials') {
    const secret = auth === 'client_secret_basic' ? ' --client-secret-file FILE' : '';
    return `${base} --client-credentials --client-id ${record.clientId}${secret}`;
  }
  if (record.grantKind === 'jwt_bearer') {
    const file = record.loginOptions?.['assertion_file'];
    return `${base} --jwt-bearer --client-id ${record.clientId} --assertion-file ${typeof file === 'string' ? file : 'FILE'}`;
  }
  return base;
}

/**
 * What a renewal checks before it writes: a refresh presents its refresh
 * token (null: none), a regrant the access token it replaces. The write
 * happens only while the credential still holds it, so a newer login wins.
 */
export type RenewalGuard = Secret | null | { accessToken: Secret };

/**
 * The choices a login was made with, kept so that a re-login (and the proxy's
 * automatic login) makes the same ones. JSON, never a secret: a secret's
 * place is a Secret column, a file path, or nowhere.
 */
export type LoginOptions = Readonly<Record<string, string | number | boolean | null>>;
export type RegistrationKind = 'dynamic' | 'preregistered' | 'metadata_document';

export interface ClientRegistration {
  issuer: string;
  clientId: string;
  clientSecret: Secret | null;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  registrationAccessToken: Secret | null;
  registrationClientUri: string | null;
  redirectUris: string[];
  kind: RegistrationKind;
  createdAt: number;
  /** The private JWK (JSON) for `private_key_jwt`; null otherwise. */
  clientKey?: Secret | null;
}

export interface AuthorizationServerRecord {
  issuer: string;
  /** RFC 8414 metadata as received (JSON object). */
  metadata: Record<string, unknown>;
  fetchedAt: number;
}

export interface CredentialRecord {
  resource: string;
  resourceKey: string;
  serverUrls: string[];
  issuer: string;
  clientId: string;
  scopes: string[];
  accessToken: Secret;
  tokenType: string;
  expiresAt: number | null;
  refreshToken: Secret | null;
  refreshAt: number | null;
  state: StoredState;
  lastRefreshAt: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  failureCount: number;
  createdAt: number;
  updatedAt: number;
  grantKind: GrantKind;
  loginOptions: LoginOptions | null;
  /** The private half of the credential's DPoP key (JWK JSON); null for bearer tokens. */
  dpopKey: Secret | null;
}

/** A credential without its tokens: what `status` reads. */
export type CredentialListing = Omit<CredentialRecord, 'accessToken' | 'refreshToken' | 'tokenType' | 'dpopKey'> & { hasRefreshToken: boolean; dpopBound: boolean };

/** What a login produces: the record's own fields and the one server URL used; the store fills in the bookkeeping. */
export type NewCredential = Pick<
  CredentialRecord,
  'resource' | 'issuer' | 'clientId' | 'scopes' | 'accessToken' | 'tokenType' | 'expiresAt' | 'refreshToken' | 'refreshAt'
> & { serverUrl: string } & Partial<Pick<CredentialRecord, 'grantKind' | 'loginOptions' | 'dpopKey'>>;

/** What a refresh produces. A missing refresh token keeps the old one (RFC 6749 §6). */
export interface RotatedTokens {
  accessToken: Secret;
  tokenType: string;
  expiresAt: number | null;
  refreshToken: Secret | null;
  refreshAt: number | null;
  scopes?: string[];
}
