/**
 * Logout's revocation (T4): RFC 7009 revocation of a credential's tokens at
 * its authorization server. The caller deletes the credential either way.
 */
import { isAuthdError } from '../../shared/errors.js';
import { isLoopbackHost } from '../../shared/loopback.js';
import { validateAuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import type { AuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import type { FetchFunction, HttpPolicy } from '../oauth/http-fetch.js';
import { createOAuthClient, revokeToken } from '../oauth/oauth-client.js';
import type { OAuthClient } from '../oauth/oauth-client.js';
import type { Logger } from '../os/logger.js';
import type { Secret } from '../store/secret.js';
import type { CredentialRecord, TokenStore } from '../store/token-store.js';


export interface LogoutDeps {
  store: TokenStore;
  logger: Logger;
  fetch?: FetchFunction;
  /**
   * Plain http to a loopback AS. Default: allowed when the credential's issuer
   * itself is a loopback http URL, which discovery accepted only under the
   * user's opt-in at login.
   */
  allowInsecureLoopback?: boolean;
}

export type RevocableToken = 'refresh_token' | 'access_token';

export interface LogoutResult {
  /** Every token the credential held was revoked. */
  revoked: boolean;
  /** False when the AS has no revocation endpoint (or its metadata is not stored). */
  revocationSupported: boolean;
  /** What failed, for the user; the caller deletes the credential regardless. */
  errors: string[];
  /** The tokens the AS accepted to revoke, in the order they were sent. */
  revokedTokens: RevocableToken[];
  /** Tokens the AS declined as a type it does not revoke (RFC 7009 §2.2.1 unsupported_token_type). */
  declinedTokens: RevocableToken[];
}

/**
 * T4: RFC 7009 revocation of a credential's refresh and access tokens. Never
 * throws for a revocation failure: it reports it, and the caller still
 * deletes the credential locally.
 */
export async function logout(record: CredentialRecord, deps: LogoutDeps): Promise<LogoutResult> {
  const { store, logger } = deps;
  const stored = store.getAuthorizationServer(record.issuer);
  if (stored === undefined) {
    return { revoked: false, revocationSupported: false, errors: [`no stored metadata for ${record.issuer}; tokens were not revoked`], revokedTokens: [], declinedTokens: [] };
  }
  const allowInsecureLoopback = deps.allowInsecureLoopback ?? isLoopbackHttp(record.issuer);
  let metadata: AuthorizationServerMetadata;
  try {
    metadata = validateAuthorizationServerMetadata(stored.metadata, record.issuer, allowInsecureLoopback, record.issuer);
  } catch (err) {
    return { revoked: false, revocationSupported: false, errors: [(err as Error).message], revokedTokens: [], declinedTokens: [] };
  }
  if (metadata.revocation_endpoint === undefined) return { revoked: false, revocationSupported: false, errors: [], revokedTokens: [], declinedTokens: [] };

  const registration = store.getClientRegistration(record.issuer, record.clientId);
  const http: HttpPolicy = { allowInsecureLoopback };
  if (deps.fetch !== undefined) http.fetch = deps.fetch;
  const errors: string[] = [];
  let client: OAuthClient;
  try {
    client = createOAuthClient(metadata, registration ?? { clientId: record.clientId, clientSecret: null, tokenEndpointAuthMethod: 'none' }, http);
  } catch (err) {
    return { revoked: false, revocationSupported: true, errors: [(err as Error).message], revokedTokens: [], declinedTokens: [] };
  }
  const revokedTokens: RevocableToken[] = [];
  const declinedTokens: RevocableToken[] = [];
  // The refresh token first: revoking it ends the grant, so a leaked access token dies with it at most ASes.
  const tokens: [Secret | null, 'refresh_token' | 'access_token'][] = [
    [record.refreshToken, 'refresh_token'],
    [record.accessToken, 'access_token'],
  ];
  for (const [token, hint] of tokens) {
    if (token === null) continue;
    try {
      await revokeToken(client, token, hint);
      revokedTokens.push(hint);
    } catch (err) {
      // RFC 7009 §2.2.1: the AS cannot revoke this kind of token (oidc-provider says so for JWT
      // access tokens); nothing more can be done, but the user is told it stays valid.
      if (isAuthdError(err) && err.data?.['error'] === 'unsupported_token_type') {
        logger.debug('the authorization server cannot revoke this token type', { hint });
        declinedTokens.push(hint);
        continue;
      }
      errors.push(`${hint.replace('_', ' ')} not revoked: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) logger.warn('revocation failed', { resource: record.resource, issuer: record.issuer, errors });
  else logger.info('tokens revoked', { resource: record.resource, issuer: record.issuer, revoked: revokedTokens, declined: declinedTokens });
  const held = tokens.filter(([token]) => token !== null).length;
  return { revoked: revokedTokens.length === held, revocationSupported: true, errors, revokedTokens, declinedTokens };
}

function isLoopbackHttp(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname);
  } catch {
    return false;
  }
}
