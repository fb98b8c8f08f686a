/**
 * The network half of a refresh: the stored authorization server metadata
 * and client registration, one refresh_token grant carrying the credential's
 * resource verbatim (R3, R4) and no scope, and the same response checks as a
 * login (R5). The policy around it lives in token-refresher.ts.
 */
import { AuthdError } from '../shared/errors.js';
import { loadAuthorizationServer } from './discovery.js';
import type { FetchFunction } from './http-fetch.js';
import { createOAuthClient, refreshTokenGrant } from './oauth-client.js';
import type { RefreshGrant } from './token-refresher.js';
import type { TokenStore } from './token-store.js';

/**
 * Metadata older than this is fetched again before a refresh. Long, because a
 * refresh must not depend on the metadata endpoint being up; the token
 * endpoint is what matters.
 */
export const REFRESH_METADATA_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export function createRefreshGrant(deps: { store: TokenStore; now: () => number; fetch?: FetchFunction }): RefreshGrant {
  return async ({ record, refreshToken, registration, signal }) => {
    if (registration === undefined) {
      throw new AuthdError('OAUTH_FAILED', `no client registration for ${record.issuer} is stored any more; log in again`, { data: { error: 'invalid_client' } });
    }
    // A plain-http issuer can only have been stored by a login the user ran
    // with --insecure-loopback; the http layer still refuses anything but loopback.
    const http = {
      allowInsecureLoopback: record.issuer.startsWith('http:'),
      ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
      ...(signal === undefined ? {} : { signal }),
    };
    const { metadata } = await loadAuthorizationServer(record.issuer, http, { store: deps.store, now: deps.now, maxAgeMs: REFRESH_METADATA_MAX_AGE_MS });
    const client = createOAuthClient(
      metadata,
      { clientId: registration.clientId, clientSecret: registration.clientSecret, tokenEndpointAuthMethod: registration.tokenEndpointAuthMethod },
      http,
    );
    const tokens = await refreshTokenGrant(client, refreshToken, { resource: record.resource, grantedScopes: record.scopes, now: deps.now });
    return { accessToken: tokens.accessToken, tokenType: tokens.tokenType, expiresAt: tokens.expiresAt, refreshToken: tokens.refreshToken, scopes: tokens.scopes };
  };
}
