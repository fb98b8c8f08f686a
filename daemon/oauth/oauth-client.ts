/**
 * The only file that imports openid-client: client registration (C1-C3), the
 * authorization request (A1, A2, R1, R2), the code exchange (R1, R4), the
 * refresh grant (R3) and revocation (T4), plus toAuthdError(), the one place
 * where openid-client errors become AuthdErrors.
 *
 * Everything goes through http-fetch.ts (openid-client's customFetch), so the
 * scheme rule, timeout and size cap are the same as for metadata. Token
 * responses are validated from the raw bytes by token-response.ts, including
 * the audience check (R5), before anyone sees a token.
 *
 * Secrets (client secret, PKCE verifier, code, tokens) cross this module's
 * boundary only inside Secret objects; no error built here carries a body.
 */
import * as oidc from 'openid-client';
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import type { FailureReason } from '../../shared/protocol.js';
import { assertSecureUrl } from '../../shared/resource-uri.js';
import type { AuthorizationServerMetadata } from './authorization-server-metadata.js';
import { createCustomFetch, describeUrl, HTTP_TIMEOUT_MS, httpRequest, parseJsonObject, serverText } from './http-fetch.js';
import type { HttpPolicy, ObservedResponse } from './http-fetch.js';
import type { AuthorizationResponse } from './authorization-response.js';
import { Secret } from '../store/secret.js';
import type { ClientRegistration, TokenEndpointAuthMethod } from '../store/token-store.js';
import { RejectedTokenResponse, validateTokenResponse } from './token-response.js';
import type { ValidatedTokens } from './token-response.js';

/** Shown to the user on the AS's consent page. */
export const CLIENT_NAME = 'mcpauthd';

function oauthError(message: string, reason: FailureReason, data: Record<string, unknown> = {}): AuthdError {
  return new AuthdError('OAUTH_FAILED', message, { data: { reason, ...data } });
}

// ------------------------------------------------------------ clients

/** How mcpauthd authenticates as a client at the token endpoint. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: Secret | null;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
}

/** A client of one authorization server; opaque, built by createOAuthClient(). */
export interface OAuthClient {
  readonly issuer: string;
  readonly clientId: string;
}

interface ClientState {
  metadata: AuthorizationServerMetadata;
  credentials: ClientCredentials;
  http: HttpPolicy;
}

// Kept out of the handle itself, so the secret is not reachable from it (as openid-client does).
const clientStates = new WeakMap<OAuthClient, ClientState>();

export function createOAuthClient(metadata: AuthorizationServerMetadata, credentials: ClientCredentials, http: HttpPolicy): OAuthClient {
  if (credentials.tokenEndpointAuthMethod !== 'none' && credentials.clientSecret === null) {
    throw oauthError(`client ${credentials.clientId} uses ${credentials.tokenEndpointAuthMethod} but has no client secret`, 'client_secret_required');
  }
  const client: OAuthClient = Object.freeze({ issuer: metadata.issuer, clientId: credentials.clientId });
  clientStates.set(client, { metadata, credentials, http });
  return client;
}

function stateOf(client: OAuthClient): ClientState {
  const state = clientStates.get(client);
  if (state === undefined) throw new TypeError('"client" must come from createOAuthClient()');
  return state;
}

const URL_FIELDS = ['issuer', 'authorization_endpoint', 'token_endpoint', 'revocation_endpoint'] as const;

/**
 * client_secret_basic as RFC 6749 §2.3.1 says: id and secret each
 * application/x-www-form-urlencoded, then Basic. oauth4webapi's own helper
 * also escapes `-._~!*'()`, which servers that compare raw values (the MCP
 * SDK's, the conformance suite's) reject as invalid_client for an id like
 * "my-client".
 */
function formEncodedBasic(clientId: string, secret: string | undefined): oidc.ClientAuth {
  if (secret === undefined) throw oauthError(`client ${clientId} uses client_secret_basic but has no client secret`, 'client_secret_required');
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  const credentials = Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64');
  return (_as, _client, _body, headers) => {
    headers.set('authorization', `Basic ${credentials}`);
  };
}

/**
 * A fresh openid-client Configuration per operation, so that the observer of
 * one request never sees another's response.
 */
function configuration(client: OAuthClient, observe?: (response: ObservedResponse) => void): oidc.Configuration {
  const { metadata, credentials, http } = stateOf(client);
  const secret = credentials.clientSecret?.reveal();
  let auth: oidc.ClientAuth;
  switch (credentials.tokenEndpointAuthMethod) {
    case 'client_secret_basic':
      auth = formEncodedBasic(credentials.clientId, secret);
      break;
    case 'client_secret_post':
      auth = oidc.ClientSecretPost(secret);
      break;
    case 'none':
      auth = oidc.None();
      break;
  }
  const clientMetadata: Partial<oidc.ClientMetadata> = { token_endpoint_auth_method: credentials.tokenEndpointAuthMethod };
  if (secret !== undefined) clientMetadata.client_secret = secret;
  const config = new oidc.Configuration(metadata, credentials.clientId, clientMetadata, auth);
  config[oidc.customFetch] = createCustomFetch(http, 'authorization server', observe);
  // openid-client's own timer is only a backstop, a second later than ours: ours
  // also covers reading the body and reports "no answer within N s", where its
  // abort would surface as a misleading "request cancelled".
  config.timeout = Math.ceil((http.timeoutMs ?? HTTP_TIMEOUT_MS) / 1000) + 1;
  // openid-client refuses http:// unless told; tell it only when the user opted in and an
  // endpoint really is plain-http loopback (discovery already refused any other http URL,
  // and the customFetch checks every request again).
  if (http.allowInsecureLoopback && URL_FIELDS.some((field) => metadata[field]?.startsWith('http:') === true)) {
    oidc.allowInsecureRequests(config);
  }
  return config;
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
export async function registerClient(metadata: AuthorizationServerMetadata, redirectUri: string, http: HttpPolicy): Promise<NewRegistration> {
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
        grant_types: ['authorization_code', 'refresh_token'],
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

// ------------------------------------------------------------ authorization request

/** A1: PKCE S256 must be advertised; without it there is no login. */
export function assertPkceS256(metadata: AuthorizationServerMetadata): void {
  if (metadata.code_challenge_methods_supported?.includes('S256') !== true) {
    throw oauthError(
      `${metadata.issuer} does not advertise PKCE S256 (code_challenge_methods_supported); refusing to log in without it`,
      'pkce_unsupported',
    );
  }
}

export interface AuthorizationRequest {
  /** The URL to open in the browser: carries code_challenge and state, no secret. */
  url: string;
  state: string;
  codeVerifier: Secret;
  redirectUri: string;
  /** Sent verbatim, here and on the code exchange (R1, R2, R4). */
  resource: string;
  /** Requested scopes; empty when `scope` was omitted. */
  scopes: string[];
}

/** A1, A2, R1: the authorization URL with PKCE S256, a fresh state and the resource. */
export async function buildAuthorizationRequest(
  client: OAuthClient,
  request: { redirectUri: string; resource: string; scopes: readonly string[] },
): Promise<AuthorizationRequest> {
  assertPkceS256(stateOf(client).metadata);
  try {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const parameters: Record<string, string> = {
      response_type: 'code',
      redirect_uri: request.redirectUri,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      resource: request.resource,
    };
    if (request.scopes.length > 0) parameters['scope'] = request.scopes.join(' ');
    const url = oidc.buildAuthorizationUrl(configuration(client), parameters);
    return {
      url: url.href,
      state,
      codeVerifier: new Secret(verifier),
      redirectUri: request.redirectUri,
      resource: request.resource,
      scopes: [...request.scopes],
    };
  } catch (err) {
    return toAuthdError(err);
  }
}

// ------------------------------------------------------------ token endpoint

/**
 * Runs one token-endpoint call and validates the raw 200 body it got. When
 * openid-client rejects the response first, the raw body is validated anyway
 * so the error names the broken field rather than a library message.
 */
async function tokenCall(
  client: OAuthClient,
  call: (config: oidc.Configuration) => Promise<unknown>,
  context: { resource: string; requestedScopes: readonly string[]; now: () => number },
): Promise<ValidatedTokens> {
  const { metadata } = stateOf(client);
  let raw: Uint8Array | undefined;
  let arrivedAt = 0;
  const config = configuration(client, (response) => {
    if (response.status === 200) {
      raw = response.body;
      arrivedAt = context.now();
    }
  });
  const validate = (body: Uint8Array): ValidatedTokens => {
    let json: Record<string, unknown>;
    try {
      json = parseJsonObject(body, 'token response', metadata.token_endpoint);
    } catch (err) {
      // A 200 we cannot read: the server may have rotated the refresh token in
      // sending it, and we cannot know the new one (token-refresher.ts).
      if (!isAuthdError(err)) throw err;
      throw new AuthdError(err.code, err.message, { cause: err, data: { ...err.data, outcome: 'unknown' } });
    }
    return validateTokenResponse(json, { resource: context.resource, requestedScopes: context.requestedScopes, now: arrivedAt });
  };
  try {
    await call(config);
  } catch (err) {
    if (raw === undefined) return toAuthdError(err);
    // A 200 that openid-client refused: ours names the broken field, and
    // when ours passes, the library's reason stands, with the refresh token
    // the answer issued kept either way (invariant 7).
    const tokens = validate(raw);
    try {
      return toAuthdError(err);
    } catch (refused) {
      if (refused instanceof AuthdError) throw new RejectedTokenResponse(refused, tokens.refreshToken);
      throw refused;
    }
  }
  if (raw === undefined) throw oauthError('the token endpoint answered without a body', 'invalid_token_response');
  return validate(raw);
}

/**
 * R1, R4: redeems the code, sending the same `resource` as the authorization
 * request. The caller has already checked state and iss (loopback-callback);
 * openid-client checks them again.
 */
export async function exchangeAuthorizationCode(
  client: OAuthClient,
  request: AuthorizationRequest,
  response: AuthorizationResponse,
  now: () => number,
): Promise<ValidatedTokens> {
  const callbackUrl = new URL(request.redirectUri);
  callbackUrl.searchParams.set('code', response.code.reveal());
  callbackUrl.searchParams.set('state', response.state);
  if (response.iss !== undefined) callbackUrl.searchParams.set('iss', response.iss);
  return tokenCall(
    client,
    (config) =>
      oidc.authorizationCodeGrant(
        config,
        callbackUrl,
        { pkceCodeVerifier: request.codeVerifier.reveal(), expectedState: request.state },
        { resource: request.resource },
      ),
    { resource: request.resource, requestedScopes: request.scopes, now },
  );
}

/**
 * R3: a refresh grant, always with the credential's `resource` (openid-client
 * does not carry it over). No `scope` unless given: asking for more than the
 * login got is `invalid_scope`. A response without `scope` keeps `grantedScopes`.
 */
export async function refreshTokenGrant(
  client: OAuthClient,
  refreshToken: Secret,
  options: { resource: string; grantedScopes: readonly string[]; now: () => number; scope?: readonly string[] },
): Promise<ValidatedTokens> {
  const parameters: Record<string, string> = { resource: options.resource };
  if (options.scope !== undefined && options.scope.length > 0) parameters['scope'] = options.scope.join(' ');
  return tokenCall(client, (config) => oidc.refreshTokenGrant(config, refreshToken.reveal(), parameters), {
    resource: options.resource,
    requestedScopes: options.scope ?? options.grantedScopes,
    now: options.now,
  });
}

/** Whether the AS has an RFC 7009 revocation endpoint. */
export function supportsRevocation(client: OAuthClient): boolean {
  return stateOf(client).metadata.revocation_endpoint !== undefined;
}

/** T4: RFC 7009 revocation of one token. */
export async function revokeToken(client: OAuthClient, token: Secret, hint: 'access_token' | 'refresh_token'): Promise<void> {
  if (!supportsRevocation(client)) throw oauthError(`${client.issuer} has no revocation endpoint`, 'revocation_unsupported');
  try {
    await oidc.tokenRevocation(configuration(client), token.reveal(), { token_type_hint: hint });
  } catch (err) {
    toAuthdError(err);
  }
}

// ------------------------------------------------------------ errors

// The AS's own words, bounded and with anything token-shaped masked.
function describeOAuthError(body: Record<string, unknown>): string {
  const error = typeof body['error'] === 'string' ? body['error'] : undefined;
  const description = typeof body['error_description'] === 'string' ? body['error_description'] : undefined;
  if (error === undefined) return '';
  return `: ${serverText(error, 64)}${description === undefined ? '' : ` (${serverText(description, 300)})`}`;
}

function innerMessage(err: Error): string {
  const cause = err.cause;
  return cause instanceof Error ? serverText(cause.message, 200) : serverText(err.message, 200);
}

/**
 * The one translation of openid-client failures into AuthdErrors. Messages
 * hold the error code, the AS's error_description and the HTTP status, never
 * a body; the original stays as a non-enumerable `cause`.
 */
export function toAuthdError(err: unknown): never {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    if (isAuthdError(e)) throw e;
  }
  if (err instanceof oidc.ResponseBodyError) {
    const error = serverText(String(err.error), 64);
    const description = err.error_description === undefined ? '' : ` (${serverText(String(err.error_description), 300)})`;
    throw new AuthdError('OAUTH_FAILED', `authorization server answered ${error}${description}, HTTP ${err.status}`, {
      cause: err,
      data: { reason: 'oauth_error', error, status: err.status },
    });
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const challenge = err.cause[0];
    const error = serverText(String(challenge?.parameters.error ?? 'unauthorized'), 64);
    throw new AuthdError('OAUTH_FAILED', `authorization server answered ${error} (HTTP ${err.response.status} with a ${challenge?.scheme ?? ''} challenge)`, {
      cause: err,
      data: { reason: 'oauth_error', error, status: err.response.status },
    });
  }
  if (err instanceof oidc.AuthorizationResponseError) {
    const error = serverText(String(err.error), 64);
    throw new AuthdError('OAUTH_FAILED', `the authorization server refused: ${error}`, { cause: err, data: { reason: 'authorization_error', error } });
  }
  if (err instanceof oidc.ClientError) {
    switch (err.code) {
      case 'OAUTH_TIMEOUT':
        throw new AuthdError('HTTP_FAILED', 'the authorization server did not answer in time', { cause: err, data: { reason: 'timeout' } });
      case 'OAUTH_ABORT':
        throw new AuthdError('HTTP_FAILED', 'the request to the authorization server was cancelled', { cause: err, data: { reason: 'aborted' } });
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
        const status = err.cause instanceof Response ? err.cause.status : undefined;
        throw new AuthdError('HTTP_FAILED', `the authorization server answered HTTP ${status ?? 'with an unexpected status'}`, {
          cause: err,
          data: { reason: 'unexpected_status', ...(status === undefined ? {} : { status }) },
        });
      }
      case 'OAUTH_RESPONSE_IS_NOT_JSON':
        throw new AuthdError('HTTP_FAILED', 'the authorization server answered something that is not JSON', { cause: err, data: { reason: 'not_json' } });
      case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
      case 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN':
        throw new AuthdError('HTTP_FAILED', `refused to talk to the authorization server: ${innerMessage(err)}`, { cause: err, data: { reason: 'insecure' } });
      default:
        throw new AuthdError('OAUTH_FAILED', `the authorization server sent an invalid response: ${innerMessage(err)}`, {
          cause: err,
          data: { reason: 'invalid_response' },
        });
    }
  }
  throw new AuthdError('internal', `unexpected failure in the OAuth client: ${err instanceof Error ? serverText(err.message, 200) : 'unknown'}`, {
    cause: err,
  });
}
