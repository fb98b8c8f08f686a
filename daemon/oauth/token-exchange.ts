/**
 * Enterprise-managed authorization (MCP extension
 * io.modelcontextprotocol/enterprise-managed-authorization), the two token
 * calls that replace the browser:
 *
 *   at the IdP: RFC 8693 token exchange, ID token → ID-JAG (an Identity
 *     Assertion JWT Authorization Grant) for one MCP server's resource, with
 *     its authorization server as audience;
 *   at the MCP AS: the RFC 7523 jwt-bearer grant with the ID-JAG as assertion
 *     (jwtBearerGrant in extension-grants.ts, shared with machine logins).
 *
 * The ID token and the ID-JAG cross this module only inside Secrets; errors
 * never carry a body (toAuthdError in oauth-client.ts, through
 * extension-grants.ts, which makes the calls).
 */
import { parseJsonObject } from './http-fetch.js';
import { genericGrant } from './extension-grants.js';
import { stateOf, type OAuthClient } from './oauth-client.js';
import { oauthError } from './oauth-error.js';
import { Secret } from '../store/secret.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

export interface IdJag {
  /** The assertion for the jwt-bearer grant: a secret (it buys an access token). */
  assertion: Secret;
  /** Epoch ms from `expires_in`, or null when the IdP did not say. */
  expiresAt: number | null;
}

export interface IdJagRequest {
  /** The session's ID token, the subject token. */
  idToken: Secret;
  /** The MCP server's resource, verbatim from its protected resource metadata (R1, R2). */
  resource: string;
  /** The MCP server's authorization server (its issuer): who will accept the ID-JAG. */
  audience: string;
  /** Scopes for the MCP server; omitted when empty. */
  scopes: readonly string[];
  now: () => number;
}

/**
 * RFC 8693 at the IdP (`idpClient` is mcpauthd's client there): asks for an
 * ID-JAG for one resource and checks that an ID-JAG is what came back.
 */
export async function requestIdJag(idpClient: OAuthClient, request: IdJagRequest): Promise<IdJag> {
  const parameters: Record<string, string> = {
    requested_token_type: ID_JAG_TOKEN_TYPE,
    subject_token: request.idToken.reveal(),
    subject_token_type: ID_TOKEN_TYPE,
    audience: request.audience,
    resource: request.resource,
  };
  if (request.scopes.length > 0) parameters['scope'] = request.scopes.join(' ');
  let raw: Uint8Array | undefined;
  let arrivedAt = 0;
  await genericGrant(idpClient, TOKEN_EXCHANGE_GRANT, parameters, (response) => {
    if (response.status === 200) {
      raw = response.body;
      arrivedAt = request.now();
    }
  });
  if (raw === undefined) throw oauthError('the identity provider answered the token exchange without a body', 'invalid_token_response');
  const body = parseJsonObject(raw, 'token exchange response', stateOf(idpClient).metadata.token_endpoint);
  return checkIdJagResponse(body, arrivedAt);
}

/** The RFC 8693 §2.2.1 response, held to: an ID-JAG, non-empty, with a sane lifetime. */
export function checkIdJagResponse(body: Record<string, unknown>, now: number): IdJag {
  const token = body['access_token'];
  if (typeof token !== 'string' || token === '') throw oauthError('the token exchange response has no "access_token"', 'invalid_token_response');
  const issued = body['issued_token_type'];
  if (issued !== ID_JAG_TOKEN_TYPE) {
    const shown = typeof issued === 'string' ? JSON.stringify(issued.slice(0, 80)) : 'missing';
    throw oauthError(`the identity provider issued token type ${shown}, not an ID-JAG (${ID_JAG_TOKEN_TYPE})`, 'unsupported_token_type');
  }
  const expiresIn = body['expires_in'];
  const expiresAt = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? now + Math.floor(expiresIn * 1000) : null;
  return { assertion: new Secret(token), expiresAt };
}
