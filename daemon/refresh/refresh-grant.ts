/**
 * The network half of a refresh: the stored authorization server metadata
 * and client registration, one refresh_token grant carrying the credential's
 * resource verbatim (R3, R4) and no scope, and the same response checks as a
 * login (R5). The policy around it lives in token-refresher.ts.
 */
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import { loadAuthorizationServer, validateAuthorizationServerMetadata, type AuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import { mayHaveReachedServer, REFRESH_TIMEOUT_MS, type FetchFunction, type HttpPolicy } from '../oauth/http-fetch.js';
import { createOAuthClient, refreshTokenGrant, type OAuthClient } from '../oauth/oauth-client.js';
import type { ClientRegistration, CredentialRecord } from '../store/records.js';
import type { RefreshGrant } from './token-refresher.js';
import type { TokenStore } from '../store/token-store.js';

/**
 * Metadata older than this is fetched again before a refresh. Long, because a
 * refresh must not depend on the metadata endpoint being up; the token
 * endpoint is what matters.
 */
export const REFRESH_METADATA_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * The issuer's metadata: the stored copy while young, else fetched again; and
 * when fetching fails, the stored copy however old (stale-if-error). A
 * metadata endpoint that is down, or a legacy server whose metadata lives at a
 * URL the issuer does not lead to, must not stop refreshes that only need the
 * token endpoint.
 */
export async function metadataFor(issuer: string, http: HttpPolicy, deps: { store: TokenStore; now: () => number }): Promise<AuthorizationServerMetadata> {
  try {
    return (await loadAuthorizationServer(issuer, http, { store: deps.store, now: deps.now, maxAgeMs: REFRESH_METADATA_MAX_AGE_MS })).metadata;
  } catch (err) {
    const stored = deps.store.getAuthorizationServer(issuer);
    if (stored === undefined) throw err;
    return validateAuthorizationServerMetadata(stored.metadata, issuer, http.allowInsecureLoopback, issuer);
  }
}

export interface RefreshGrantDeps {
  store: TokenStore;
  now: () => number;
  fetch?: FetchFunction;
  /** Ceiling for the token request alone (default REFRESH_TIMEOUT_MS); metadata keeps the short HTTP timeout. */
  timeoutMs?: number;
}

/**
 * The stored client of a credential at its issuer, for a renewal (a refresh,
 * or a grant run again: regrant.ts), with the HTTP policy it runs under.
 * A plain-http issuer can only have been stored by a login the user ran with
 * --insecure-loopback; the http layer still refuses anything but loopback.
 */
export async function renewalClient(
  record: Pick<CredentialRecord, 'issuer'>,
  registration: ClientRegistration | undefined,
  signal: AbortSignal | undefined,
  deps: RefreshGrantDeps,
): Promise<{ client: OAuthClient; http: HttpPolicy }> {
  if (registration === undefined) {
    throw new AuthdError('OAUTH_FAILED', `no client registration for ${record.issuer} is stored any more; log in again`, { data: { error: 'invalid_client' } });
  }
  const http = {
    allowInsecureLoopback: record.issuer.startsWith('http:'),
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(signal === undefined ? {} : { signal }),
  };
  const metadata = await metadataFor(record.issuer, http, deps);
  return { client: createOAuthClient(metadata, registration, { ...http, timeoutMs: deps.timeoutMs ?? REFRESH_TIMEOUT_MS }), http };
}

export function createRefreshGrant(deps: RefreshGrantDeps): RefreshGrant {
  return async ({ record, refreshToken, registration, signal }) => {
    const { client } = await renewalClient(record, registration, signal, deps);
    let tokens;
    try {
      // A DPoP-bound credential refreshes with the key it logged in with (stored, so a daemon restart keeps it).
      tokens = await refreshTokenGrant(client, refreshToken, { resource: record.resource, grantedScopes: record.scopes, now: deps.now, dpopKey: record.dpopKey });
    } catch (err) {
      throw markOutcomeUnknown(err);
    }
    return { accessToken: tokens.accessToken, tokenType: tokens.tokenType, expiresAt: tokens.expiresAt, refreshToken: tokens.refreshToken, scopes: tokens.scopes };
  };
}

/**
 * A token request that may have reached the server without an answer coming
 * back, or whose answer could not be read: the server may have rotated the
 * refresh token (data.outcome "unknown").
 * Anything else passes unchanged.
 */
function markOutcomeUnknown(err: unknown): unknown {
  if (!isAuthdError(err)) return err;
  // An answer too large to read may be a 200 whose rotation we cannot see.
  const unreadable = err.code === 'HTTP_FAILED' && err.data?.['reason'] === 'too_large';
  if (!mayHaveReachedServer(err) && !unreadable) return err;
  return new AuthdError(err.code, err.message, { cause: err, data: { ...err.data, outcome: 'unknown' } });
}
