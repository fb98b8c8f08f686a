/**
 * The grants beyond the authorization code, each a thin call through the
 * client built in oauth-client.ts (same client authentication, customFetch and
 * HTTP policy, same token-response checks through tokenCall, the resource on
 * every request):
 *
 *   the client_credentials grant (MCP extension
 *     io.modelcontextprotocol/oauth-client-credentials) and the RFC 7523
 *     jwt-bearer grant, for logins without a person (machine-grant.ts) and for
 *     the ID-JAG at the MCP server's AS (token-exchange.ts);
 *   a grant by name (RFC 8693 token exchange, the IdP's refresh), its raw body
 *     handed to the caller that checks it;
 *   the device authorization request and the device code grant (RFC 8628),
 *     whose polling logic is device-grant.ts.
 *
 * Secrets (assertions, device codes, tokens) arrive and leave inside Secret
 * objects; failures go through toAuthdError(), so no error carries a body.
 */
import * as oidc from 'openid-client';
import type { ObservedResponse } from './http-fetch.js';
import { openidConfiguration, tokenCall, toAuthdError, type OAuthClient } from './oauth-client.js';
import type { Secret } from '../store/secret.js';
import type { ValidatedTokens } from './token-response.js';

// ------------------------------------------------------------ client_credentials and jwt-bearer

/** The client_credentials grant (MCP extension io.modelcontextprotocol/oauth-client-credentials), with the resource. */
export async function clientCredentialsGrant(
  client: OAuthClient,
  options: { resource: string; scopes: readonly string[]; now: () => number },
): Promise<ValidatedTokens> {
  const parameters: Record<string, string> = { resource: options.resource };
  if (options.scopes.length > 0) parameters['scope'] = options.scopes.join(' ');
  return tokenCall(client, (config) => oidc.clientCredentialsGrant(config, parameters), { resource: options.resource, requestedScopes: options.scopes, now: options.now });
}

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * RFC 7523 §2.1: an assertion exchanged for a token for `resource` (sent
 * verbatim, the answer held to it: R5): the platform's assertion of a machine
 * login, or the ID-JAG of enterprise-managed authorization.
 */
export async function jwtBearerGrant(
  client: OAuthClient,
  assertion: Secret,
  options: { resource: string; scopes: readonly string[]; now: () => number },
): Promise<ValidatedTokens> {
  const parameters: Record<string, string> = { assertion: assertion.reveal(), resource: options.resource };
  if (options.scopes.length > 0) parameters['scope'] = options.scopes.join(' ');
  return accessTokenGrant(client, JWT_BEARER_GRANT, parameters, { resource: options.resource, requestedScopes: options.scopes, now: options.now });
}

// ------------------------------------------------------------ grants by name

/** A grant by name (RFC 8693 token exchange, the IdP's refresh), its 200 body handed to `observe` raw. */
export async function genericGrant(
  client: OAuthClient,
  grantType: string,
  parameters: Record<string, string>,
  observe: (response: ObservedResponse) => void,
): Promise<void> {
  try {
    await oidc.genericGrantRequest(openidConfiguration(client, observe), grantType, parameters);
  } catch (err) {
    toAuthdError(err);
  }
}

/** A grant by name whose answer is an access token for `resource`, validated like a code exchange's (R5). */
export async function accessTokenGrant(
  client: OAuthClient,
  grantType: string,
  parameters: Record<string, string>,
  context: { resource: string; requestedScopes: readonly string[]; now: () => number },
): Promise<ValidatedTokens> {
  return tokenCall(client, (config) => oidc.genericGrantRequest(config, grantType, parameters), context);
}

// ------------------------------------------------------------ device authorization grant (RFC 8628)

/** The device authorization answer as openid-client checked it; device-grant.ts checks the rest. */
export interface DeviceAuthorizationAnswer {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval?: number;
}

/** RFC 8628 §3.1: the device authorization request, with the parameters given (resource among them). */
export async function deviceAuthorizationRequest(client: OAuthClient, parameters: Record<string, string>): Promise<DeviceAuthorizationAnswer> {
  try {
    return await oidc.initiateDeviceAuthorization(openidConfiguration(client), parameters);
  } catch (err) {
    return toAuthdError(err);
  }
}

/**
 * RFC 8628 §3.4: one poll of the token endpoint with the device code and the
 * resource. Pending, slow_down and the rest arrive as AuthdError with `data.error`.
 */
export async function deviceCodeGrant(
  client: OAuthClient,
  deviceCode: Secret,
  options: { grantType: string; resource: string; requestedScopes: readonly string[]; now: () => number },
): Promise<ValidatedTokens> {
  return tokenCall(client, (config) => oidc.genericGrantRequest(config, options.grantType, { device_code: deviceCode.reveal(), resource: options.resource }), {
    resource: options.resource,
    requestedScopes: options.requestedScopes,
    now: options.now,
  });
}
