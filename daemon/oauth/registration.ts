/**
 * Getting a client at an authorization server: a Client ID Metadata Document
 * (C2), RFC 7591 dynamic registration (C3), and the RFC 7592 read that tells
 * whether a stored registration can be reused. Plain HTTP through
 * http-fetch.ts; no openid-client.
 */
import { assertSecureUrl } from '../../shared/resource-uri.js';
import type { AuthorizationServerMetadata } from './authorization-server-metadata.js';
import type { ClientCredentials } from './client-auth.js';
import { describeUrl, httpRequest, parseJsonObject } from './http-fetch.js';
import type { HttpPolicy } from './http-fetch.js';
import { describeOAuthError, oauthError } from './oauth-error.js';
import { Secret } from '../store/secret.js';

/** RFC 8628 §3.4: the grant type a device login registers for and polls with. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
import type { ClientRegistration, TokenEndpointAuthMethod } from '../store/token-store.js';

/** Shown to the user on the AS's consent page. */
export const CLIENT_NAME = 'mcpauthd';

/**
 * C2: a Client ID Metadata Document: the client_id is the HTTPS URL of a JSON
 * document the AS fetches. Only when the AS says it supports them.
 */
export function metadataDocumentClient(metadata: AuthorizationServerMetadata, documentUrl: string, allowInsecureLoopback: boolean): ClientCredentials {
  if (metadata.client_id_metadata_document_supported !== true) {
    throw oauthError(`${metadata.issuer} does not support client ID metadata documents (client_id_metadata_document_supported)`, 'cimd_unsupported');
  }
  const url = assertSecureUrl(documentUrl, 'client metadata document URL', allowInsecureLoopback);
  if (url.pathname === '/' || url.hash !== '') {
    throw oauthError('a client metadata document URL needs a path and no fragment', 'invalid_client_metadata_url');
  }
  return { clientId: documentUrl, clientSecret: null, tokenEndpointAuthMethod: 'none' };
}

/** A registration as the store keeps it. */
export type NewRegistration = Omit<ClientRegistration, 'createdAt'>;

const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['none', 'client_secret_basic', 'client_secret_post'];

function isAuthMethod(value: unknown): value is TokenEndpointAuthMethod {
  return typeof value === 'string' && (AUTH_METHODS as readonly string[]).includes(value);
}

/**
 * C3: RFC 7591 dynamic registration of a native public client with a loopback
 * redirect URI. No `scope` is sent: an AS that does not list the resource's
 * scopes itself refuses the registration (stack-notes), and scopes belong in
 * the authorization request anyway. The AS's answer decides the auth method.
 */
export async function registerClient(
  metadata: AuthorizationServerMetadata,
  redirectUri: string,
  http: HttpPolicy,
  options: { deviceGrant?: boolean } = {},
): Promise<NewRegistration> {
  const endpoint = metadata.registration_endpoint;
  if (endpoint === undefined) {
    throw oauthError(
      `${metadata.issuer} offers no dynamic client registration; pass --client-id (and --client-secret) of a client registered there`,
      'registration_unsupported',
    );
  }
  const listed = metadata.token_endpoint_auth_methods_supported;
  // A public client is the right kind for a daemon on a laptop; ask for a secret only when the AS insists.
  const requested: TokenEndpointAuthMethod =
    listed === undefined || listed.includes('none') ? 'none' : listed.includes('client_secret_basic') ? 'client_secret_basic' : 'client_secret_post';
  const what = 'client registration';
  const response = await httpRequest(
    endpoint,
    {
      what,
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        client_name: CLIENT_NAME,
        application_type: 'native',
        redirect_uris: [redirectUri],
        // The device-code grant only when a device login registers (issue 16): a
        // client that asks for grants it never uses gets refused by strict servers.
        grant_types: ['authorization_code', 'refresh_token', ...(options.deviceGrant === true ? [DEVICE_CODE_GRANT_TYPE] : [])],
        response_types: ['code'],
        token_endpoint_auth_method: requested,
      }),
    },
    http,
  );
  if (response.status !== 201 && response.status !== 200) {
    let detail = '';
    try {
      detail = describeOAuthError(parseJsonObject(response.body, what, endpoint));
    } catch {
      // Not a JSON error body; the status says enough.
    }
    throw oauthError(`${what} at ${describeUrl(endpoint)} was refused: HTTP ${response.status}${detail}`, 'registration_failed');
  }
  const json = parseJsonObject(response.body, what, endpoint);
  const clientId = json['client_id'];
  if (typeof clientId !== 'string' || clientId === '') throw oauthError(`${what} answer has no client_id`, 'registration_failed');
  const method = json['token_endpoint_auth_method'] ?? requested;
  if (!isAuthMethod(method)) {
    throw oauthError(`${what} answer asks for token_endpoint_auth_method ${JSON.stringify(String(method).slice(0, 40))}, which mcpauthd does not do`, 'registration_failed');
  }
  const secret = json['client_secret'];
  const clientSecret = typeof secret === 'string' && secret !== '' ? new Secret(secret) : null;
  if (method !== 'none' && clientSecret === null) throw oauthError(`${what} answer has ${method} but no client_secret`, 'registration_failed');
  const rat = json['registration_access_token'];
  const rcu = json['registration_client_uri'];
  return {
    issuer: metadata.issuer,
    clientId,
    clientSecret,
    tokenEndpointAuthMethod: method,
    registrationAccessToken: typeof rat === 'string' && rat !== '' ? new Secret(rat) : null,
    registrationClientUri: typeof rcu === 'string' ? rcu : null,
    redirectUris: [redirectUri],
    kind: 'dynamic',
  };
}

/** What an RFC 7592 read of a stored registration said. */
export interface RegistrationCheck {
  /**
   * 'valid': the AS knows the client. 'invalid': not usable for a new login
   * (401, 404 or another client_id), which is no proof the client is gone: a
   * 401 may only mean the token was rotated or expired. 'unknown': no read
   * endpoint, or an answer that says nothing either way.
   */
  status: 'valid' | 'invalid' | 'unknown';
  /** A new registration_access_token the AS returned on the read (RFC 7592 §2.1 allows rotation); store it. */
  rotatedAccessToken: Secret | null;
}

/**
 * C3 reuse: asks the AS whether a stored dynamic registration still exists
 * (RFC 7592 §2.1 read). An unknown client_id is never redirected back to us
 * (RFC 6749 §4.1.2.1), so without this check a stale registration would
 * strand the user on the AS's error page. 'unknown' when the AS offers no
 * read endpoint, names one on another origin than the issuer (the token is
 * not sent there), or the answer says nothing either way.
 */
export async function checkRegistration(registration: ClientRegistration, http: HttpPolicy): Promise<RegistrationCheck> {
  const uri = registration.registrationClientUri;
  const token = registration.registrationAccessToken;
  const unknown: RegistrationCheck = { status: 'unknown', rotatedAccessToken: null };
  if (uri === null || token === null) return unknown;
  // The registration access token belongs to the authorization server: a
  // registration_client_uri on any other origin never gets it (issue 13 item 9).
  if (!sameOrigin(uri, registration.issuer)) return unknown;
  const what = 'client registration';
  try {
    const response = await httpRequest(uri, { what, headers: { authorization: `Bearer ${token.reveal()}`, accept: 'application/json' } }, http);
    if (response.status === 401 || response.status === 404) return { status: 'invalid', rotatedAccessToken: null };
    if (response.status !== 200) return unknown;
    const body = parseJsonObject(response.body, what, uri);
    const rat = body['registration_access_token'];
    const rotated = typeof rat === 'string' && rat !== '' && rat !== token.reveal() ? new Secret(rat) : null;
    return { status: body['client_id'] === registration.clientId ? 'valid' : 'invalid', rotatedAccessToken: rotated };
  } catch {
    // A network problem here is not evidence against the registration; the login itself will tell.
    return unknown;
  }
}

/** True when both parse as URLs with the same scheme, host and port; anything unparsable is never the same. */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
