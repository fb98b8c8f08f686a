/**
 * The OpenID Connect requests of the login at a company identity provider:
 * fresh PKCE, `state` and `nonce`, the authorization URL and the code exchange
 * that expects an ID token. Thin calls through the client built in
 * oauth-client.ts; the checks and the session logic are idp-authorization.ts.
 *
 * The PKCE verifier and the code stay in Secrets; failures go through
 * toAuthdError(), so no error carries a body.
 */
import * as oidc from 'openid-client';
import type { ObservedResponse } from './http-fetch.js';
import { openidConfiguration, toAuthdError, type OAuthClient } from './oauth-client.js';
import { Secret } from '../store/secret.js';

/** Fresh PKCE S256 pair, `state` and `nonce` for an OIDC authorization request. */
export async function oidcRequestSecrets(): Promise<{ verifier: Secret; challenge: string; state: string; nonce: string }> {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier: new Secret(verifier), challenge: await oidc.calculatePKCECodeChallenge(verifier), state: oidc.randomState(), nonce: oidc.randomNonce() };
}

/** The authorization URL for `parameters` at the client's AS. */
export function authorizationUrl(client: OAuthClient, parameters: Record<string, string>): string {
  try {
    return oidc.buildAuthorizationUrl(openidConfiguration(client), parameters).href;
  } catch (err) {
    return toAuthdError(err);
  }
}

/** An OIDC code exchange: openid-client checks state, iss, the ID token's claims and nonce; the raw body goes to `observe`. */
export async function oidcCodeGrant(
  client: OAuthClient,
  callbackUrl: URL,
  checks: { codeVerifier: Secret; state: string; nonce: string },
  observe: (response: ObservedResponse) => void,
): Promise<void> {
  try {
    await oidc.authorizationCodeGrant(openidConfiguration(client, observe), callbackUrl, {
      pkceCodeVerifier: checks.codeVerifier.reveal(),
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
  } catch (err) {
    toAuthdError(err);
  }
}
