/**
 * Row <-> record mapping: the column shapes SQLite returns and the frozen
 * records built from them. Secret columns become Secret objects here.
 */
import type { ClientRegistration, CredentialListing, CredentialRecord, GrantKind, LoginOptions, RegistrationKind, RenewalGuard, StoredState, TokenEndpointAuthMethod } from './records.js';
import { Secret, secretOrNull } from './secret.js';

export interface CredentialRow {
  resource_key: string;
  resource: string;
  issuer: string;
  client_id: string;
  scopes: string;
  access_token: string;
  token_type: string;
  expires_at: number | null;
  refresh_token: string | null;
  refresh_at: number | null;
  state: string;
  last_refresh_at: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  failure_count: number;
  created_at: number;
  updated_at: number;
  server_urls: string | null;
  grant_kind: string;
  login_options: string | null;
  dpop_key: string | null;
}

export interface RegistrationRow {
  issuer: string;
  client_id: string;
  client_secret: string | null;
  token_endpoint_auth_method: string;
  registration_access_token: string | null;
  registration_client_uri: string | null;
  redirect_uris: string;
  kind: string;
  created_at: number;
  client_key: string | null;
}

export type ListingRow = Omit<CredentialRow, 'access_token' | 'refresh_token' | 'token_type' | 'dpop_key'> & { has_refresh_token: number; dpop_bound: number };

/** The fields a credential and its token-free listing share, mapped once. */
function toBookkeeping(row: ListingRow | CredentialRow): Omit<CredentialListing, 'hasRefreshToken' | 'dpopBound'> {
  return {
    resource: row.resource,
    resourceKey: row.resource_key,
    serverUrls: row.server_urls === null ? [] : (JSON.parse(row.server_urls) as string[]),
    issuer: row.issuer,
    clientId: row.client_id,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    expiresAt: row.expires_at,
    refreshAt: row.refresh_at,
    state: row.state as StoredState,
    lastRefreshAt: row.last_refresh_at,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    failureCount: row.failure_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    grantKind: row.grant_kind as GrantKind,
    loginOptions: row.login_options === null ? null : (JSON.parse(row.login_options) as LoginOptions),
  };
}

/** Records are frozen: the cache hands the same object to every reader (callers copy arrays before changing them). */
export function toCredential(row: CredentialRow): CredentialRecord {
  return Object.freeze({
    ...toBookkeeping(row),
    accessToken: new Secret(row.access_token),
    tokenType: row.token_type,
    refreshToken: secretOrNull(row.refresh_token),
    dpopKey: secretOrNull(row.dpop_key),
  });
}

export function toListing(row: ListingRow): CredentialListing {
  return { ...toBookkeeping(row), hasRefreshToken: row.has_refresh_token === 1, dpopBound: row.dpop_bound === 1 };
}

export function toRegistration(row: RegistrationRow): ClientRegistration {
  return {
    issuer: row.issuer,
    clientId: row.client_id,
    clientSecret: secretOrNull(row.client_secret),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod,
    registrationAccessToken: secretOrNull(row.registration_access_token),
    registrationClientUri: row.registration_client_uri,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    kind: row.kind as RegistrationKind,
    createdAt: row.created_at,
    clientKey: secretOrNull(row.client_key),
  };
}

/** Whether the stored row still holds what a renewal presented (records.ts RenewalGuard). */
export function holdsGuard(row: CredentialRow, guard: RenewalGuard): boolean {
  if (guard !== null && !(guard instanceof Secret)) return row.access_token === guard.accessToken.reveal();
  return row.refresh_token === (guard?.reveal() ?? null);
}
