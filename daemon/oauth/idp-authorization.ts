/**
 * The OpenID Connect login at a company identity provider (enterprise-managed
 * authorization, `mcpauthd idp login`): authorization code with PKCE S256,
 * `state` and `nonce`, and the checks on the ID token that comes back. Also
 * the refresh of an IdP session's ID token. Built on oidc-login-requests.ts
 * and extension-grants.ts.
 *
 * The ID token is checked as a client checks one it received straight from
 * the token endpoint over TLS (OIDC Core §3.1.3.7): iss, aud, exp and nonce;
 * its signature is the relying parties' business (the IdP checks it again on
 * token exchange).
 */
import { parseJsonObject } from './http-fetch.js';
import type { AuthorizationResponse } from './authorization-response.js';
import { genericGrant } from './extension-grants.js';
import { assertPkceS256, stateOf, type OAuthClient } from './oauth-client.js';
import { authorizationUrl, oidcCodeGrant, oidcRequestSecrets } from './oidc-login-requests.js';
import { oauthError } from './oauth-error.js';
import { decodeJwtPayload } from './token-response.js';
import { Secret } from '../store/secret.js';

export interface IdpAuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: Secret;
  redirectUri: string;
}

/** What an IdP login or refresh gives: the session's tokens and who it is. */
export interface IdpTokens {
  idToken: Secret;
  refreshToken: Secret | null;
  subject: string | null;
  /** The ID token's `exp`, epoch ms; null when it has none. */
  idTokenExpiresAt: number | null;
}

/** `openid`, plus `offline_access` where the IdP lists it (for a refresh token), plus what the user asked. */
export function idpScopes(client: OAuthClient, extra: readonly string[]): string[] {
  const listed = stateOf(client).metadata.scopes_supported;
  const scopes = ['openid'];
  if (listed?.includes('offline_access') === true) scopes.push('offline_access');
  return [...new Set([...scopes, ...extra])];
}

export async function buildIdpAuthorizationRequest(
  client: OAuthClient,
  request: { redirectUri: string; scopes: readonly string[] },
): Promise<IdpAuthorizationRequest> {
  assertPkceS256(stateOf(client).metadata);
  const { verifier, challenge, state, nonce } = await oidcRequestSecrets();
  const url = authorizationUrl(client, {
    response_type: 'code',
    redirect_uri: request.redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    scope: request.scopes.join(' '),
    // Without it some IdPs (oidc-provider among them) issue no refresh token for offline_access.
    ...(request.scopes.includes('offline_access') ? { prompt: 'consent' } : {}),
  });
  return { url, state, nonce, codeVerifier: verifier, redirectUri: request.redirectUri };
}

/** Redeems the code at the IdP; openid-client checks state, iss and the ID token's claims and nonce. */
export async function exchangeIdpCode(client: OAuthClient, request: IdpAuthorizationRequest, response: AuthorizationResponse): Promise<IdpTokens> {
  const callbackUrl = new URL(request.redirectUri);
  callbackUrl.searchParams.set('code', response.code.reveal());
  callbackUrl.searchParams.set('state', response.state);
  if (response.iss !== undefined) callbackUrl.searchParams.set('iss', response.iss);
  let body: Record<string, unknown> | undefined;
  await oidcCodeGrant(client, callbackUrl, { codeVerifier: request.codeVerifier, state: request.state, nonce: request.nonce }, (observed) => {
    if (observed.status === 200) body = parseJsonObject(observed.body, 'token response', stateOf(client).metadata.token_endpoint);
  });
  if (body === undefined) throw oauthError('the identity provider answered without a body', 'invalid_token_response');
  return idpTokens(body, client, null);
}

/** A new ID token with the session's refresh token (rotated or kept, RFC 6749 §6). */
export async function refreshIdpTokens(client: OAuthClient, refreshToken: Secret): Promise<IdpTokens> {
  let body: Record<string, unknown> | undefined;
  await genericGrant(client, 'refresh_token', { refresh_token: refreshToken.reveal() }, (observed) => {
    if (observed.status === 200) body = parseJsonObject(observed.body, 'token response', stateOf(client).metadata.token_endpoint);
  });
  if (body === undefined) throw oauthError('the identity provider answered without a body', 'invalid_token_response');
  return idpTokens(body, client, refreshToken);
}

function idpTokens(body: Record<string, unknown>, client: OAuthClient, previousRefresh: Secret | null): IdpTokens {
  const idToken = body['id_token'];
  if (typeof idToken !== 'string' || idToken === '') throw oauthError('the identity provider sent no ID token', 'invalid_token_response');
  const refresh = body['refresh_token'];
  const checked = checkIdToken(idToken, { issuer: client.issuer, clientId: client.clientId, now: Date.now() });
  return { ...checked, idToken: new Secret(idToken), refreshToken: typeof refresh === 'string' && refresh !== '' ? new Secret(refresh) : previousRefresh };
}

/**
 * The claims checks on an ID token the user brought (`idp.login` with
 * `id_token`) or the IdP sent: iss is the IdP, aud holds our client, not
 * expired. Returns who it is and until when.
 */
export function checkIdToken(idToken: string, expected: { issuer: string; clientId: string; now: number }): Pick<IdpTokens, 'subject' | 'idTokenExpiresAt'> {
  const claims = decodeJwtPayload(idToken);
  if (claims === undefined) throw oauthError('the ID token is not a JWT', 'invalid_token_response');
  if (claims['iss'] !== expected.issuer) {
    throw oauthError(`the ID token was issued by ${JSON.stringify(String(claims['iss']).slice(0, 200))}, not ${expected.issuer}`, 'issuer_mismatch');
  }
  const aud = claims['aud'];
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(expected.clientId)) {
    throw oauthError(`the ID token is not for client ${expected.clientId}`, 'audience_mismatch');
  }
  const exp = claims['exp'];
  const expiresAt = typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  if (expiresAt !== null && expiresAt <= expected.now) throw oauthError('the ID token has expired; sign in to the identity provider again', 'invalid_token_response');
  const sub = claims['sub'];
  return { subject: typeof sub === 'string' ? sub.slice(0, 256) : null, idTokenExpiresAt: expiresAt };
}
