/**
 * Choosing and encoding how mcpauthd authenticates as a client at the token
 * endpoint (C1). No openid-client here: oauth-client.ts turns the choice into
 * the library's ClientAuth.
 */
import type { AuthorizationServerMetadata } from './authorization-server-metadata.js';
import { oauthError } from './oauth-error.js';
import type { Secret } from '../store/secret.js';
import type { TokenEndpointAuthMethod } from '../store/token-store.js';

/** How mcpauthd authenticates as a client at the token endpoint. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: Secret | null;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** private_key_jwt: the private JWK (client-key.ts). */
  clientKey?: Secret | null;
}

/**
 * client_secret_basic as RFC 6749 §2.3.1 says: id and secret each
 * application/x-www-form-urlencoded, then Basic. oauth4webapi's own helper
 * also escapes `-._~!*'()`, which servers that compare raw values (the MCP
 * SDK's, the conformance suite's) reject as invalid_client for an id like
 * "my-client".
 */
export function clientSecretBasicAuthorization(clientId: string, secret: string | undefined): string {
  if (secret === undefined) throw oauthError(`client ${clientId} uses client_secret_basic but has no client secret`, 'client_secret_required');
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/**
 * C1: the auth method for a pre-registered client, from what the AS supports:
 * client_secret_basic, else client_secret_post; `none` without a secret.
 */
export function chooseTokenEndpointAuthMethod(metadata: AuthorizationServerMetadata, hasSecret: boolean): TokenEndpointAuthMethod {
  const listed = metadata.token_endpoint_auth_methods_supported;
  if (!hasSecret) {
    if (listed !== undefined && !listed.includes('none')) {
      throw oauthError(
        `${metadata.issuer} requires client authentication (${listed.join(', ')}); pass the client secret too`,
        'client_secret_required',
      );
    }
    return 'none';
  }
  // RFC 8414 §2: an absent list means client_secret_basic.
  const supported = listed ?? ['client_secret_basic'];
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  if (supported.includes('none')) return 'none';
  throw oauthError(`${metadata.issuer} supports none of the client authentication methods mcpauthd has (${supported.join(', ')})`, 'unsupported_auth_method');
}

/** C1: a client the user registered at the AS themselves. */
export function preRegisteredClient(metadata: AuthorizationServerMetadata, clientId: string, clientSecret: Secret | null): ClientCredentials {
  const method = chooseTokenEndpointAuthMethod(metadata, clientSecret !== null);
  return { clientId, clientSecret: method === 'none' ? null : clientSecret, tokenEndpointAuthMethod: method };
}
