/**
 * The openid-client boundary: the client (its authentication and HTTP
 * policy), the authorization request (A1, A2, R1, R2), the code exchange
 * (R1, R4), the refresh grant (R3) and revocation (T4), plus toAuthdError(),
 * the one place where openid-client errors become AuthdErrors. The other
 * grants are built on openidConfiguration() and tokenCall() from here:
 * client_credentials, jwt-bearer, grants by name and the device grant in
 * extension-grants.ts; the IdP's OIDC login requests in
 * oidc-login-requests.ts. Only these three files import openid-client
 * (test/boundaries.test.ts). Choosing client authentication is
 * client-auth.ts; getting a client (DCR, CIMD, RFC 7592) is registration.ts;
 * private_key_jwt signs with the key from client-key.ts.
 *
 * Everything goes through http-fetch.ts (openid-client's customFetch), so the
 * scheme rule, timeout and size cap are the same as for metadata. Token
 * responses are validated from the raw bytes by token-response.ts, including
 * the audience check (R5), before anyone sees a token.
 *
 * Secrets (client secret, client key, assertions, PKCE verifier, code, tokens)
 * cross this module's boundary only inside Secret objects; no error built here
 * carries a body.
 */
import * as oidc from 'openid-client';
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import type { AuthorizationServerMetadata } from './authorization-server-metadata.js';
import { clientSecretBasicAuthorization, type ClientCredentials } from './client-auth.js';
import { signingKey, storedClientKey } from './client-key.js';
import { createCustomFetch, HTTP_TIMEOUT_MS, parseJsonObject, serverText } from './http-fetch.js';
import type { HttpPolicy, ObservedResponse } from './http-fetch.js';
import type { AuthorizationResponse } from './authorization-response.js';
import { oauthError } from './oauth-error.js';
import { Secret } from '../store/secret.js';
import { RejectedTokenResponse, validateTokenResponse } from './token-response.js';
import { dpopKeyPair } from './dpop.js';
import type { ValidatedTokens } from './token-response.js';

// ------------------------------------------------------------ clients

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
  if (credentials.tokenEndpointAuthMethod === 'private_key_jwt') {
    if (credentials.clientKey === undefined || credentials.clientKey === null) {
      throw oauthError(`client ${credentials.clientId} uses private_key_jwt but has no client key`, 'client_key_invalid');
    }
  } else if (credentials.tokenEndpointAuthMethod !== 'none' && credentials.clientSecret === null) {
    throw oauthError(`client ${credentials.clientId} uses ${credentials.tokenEndpointAuthMethod} but has no client secret`, 'client_secret_required');
  }
  const client: OAuthClient = Object.freeze({ issuer: metadata.issuer, clientId: credentials.clientId });
  clientStates.set(client, { metadata, credentials, http });
  return client;
}

export function stateOf(client: OAuthClient): ClientState {
  const state = clientStates.get(client);
  if (state === undefined) throw new TypeError('"client" must come from createOAuthClient()');
  return state;
}

const URL_FIELDS = ['issuer', 'authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'device_authorization_endpoint'] as const;
/** client_secret_basic with our own encoding (client-auth.ts says why), as openid-client's ClientAuth. */
function formEncodedBasic(clientId: string, secret: string | undefined): oidc.ClientAuth {
  const authorization = clientSecretBasicAuthorization(clientId, secret);
  return (_as, _client, _body, headers) => {
    headers.set('authorization', authorization);
  };
}

/**
 * RFC 7523 §2.2 client authentication: openid-client signs the assertion
 * (iss = sub = client_id, aud = issuer, fresh jti and exp) with our key,
 * imported non-extractable at the moment of each request.
 */
function privateKeyJwt(credentials: ClientCredentials): oidc.ClientAuth {
  const key = storedClientKey(credentials.clientKey as Secret);
  return (async (as, client, body, headers) => {
    const cryptoKey = await signingKey(key);
    await oidc.PrivateKeyJwt(key.headerKid === undefined ? cryptoKey : { key: cryptoKey, kid: key.headerKid })(as, client, body, headers);
  }) as oidc.ClientAuth;
}

/**
 * A fresh openid-client Configuration per operation, so that the observer of
 * one request never sees another's response. Exported for the other grants
 * (extension-grants.ts, oidc-login-requests.ts), so every call shares one
 * client authentication and one HTTP policy.
 */
export function openidConfiguration(client: OAuthClient, observe?: (response: ObservedResponse) => void): oidc.Configuration {
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
    case 'private_key_jwt':
      auth = privateKeyJwt(credentials);
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
  if (http.allowInsecureLoopback && URL_FIELDS.some((field) => { const value = metadata[field]; return typeof value === 'string' && value.startsWith('http:'); })) {
    oidc.allowInsecureRequests(config);
  }
  return config;
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
    const url = oidc.buildAuthorizationUrl(openidConfiguration(client), parameters);
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
export async function tokenCall(
  client: OAuthClient,
  call: (config: oidc.Configuration, options: oidc.DPoPOptions) => Promise<unknown>,
  context: { resource: string; requestedScopes: readonly string[]; now: () => number; dpopKey?: Secret | null | undefined },
): Promise<ValidatedTokens> {
  const { metadata } = stateOf(client);
  let raw: Uint8Array | undefined;
  let arrivedAt = 0;
  const config = openidConfiguration(client, (response) => {
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
    return validateTokenResponse(json, { resource: context.resource, requestedScopes: context.requestedScopes, now: arrivedAt, dpop: dpopKey !== null });
  };
  const dpopKey = context.dpopKey ?? null;
  try {
    // RFC 9449 §5: a proof on every token request with the credential's one key;
    // openid-client retries once on use_dpop_nonce with the server's nonce (§8).
    const options: oidc.DPoPOptions = dpopKey === null ? {} : { DPoP: oidc.getDPoPHandle(config, await dpopKeyPair(dpopKey)) };
    await call(config, options);
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
  dpopKey: Secret | null = null,
): Promise<ValidatedTokens> {
  const callbackUrl = new URL(request.redirectUri);
  callbackUrl.searchParams.set('code', response.code.reveal());
  callbackUrl.searchParams.set('state', response.state);
  if (response.iss !== undefined) callbackUrl.searchParams.set('iss', response.iss);
  return tokenCall(
    client,
    (config, options) =>
      oidc.authorizationCodeGrant(
        config,
        callbackUrl,
        { pkceCodeVerifier: request.codeVerifier.reveal(), expectedState: request.state },
        { resource: request.resource },
        options,
      ),
    { resource: request.resource, requestedScopes: request.scopes, now, dpopKey },
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
  options: { resource: string; grantedScopes: readonly string[]; now: () => number; scope?: readonly string[]; dpopKey?: Secret | null },
): Promise<ValidatedTokens> {
  const parameters: Record<string, string> = { resource: options.resource };
  if (options.scope !== undefined && options.scope.length > 0) parameters['scope'] = options.scope.join(' ');
  // A bound refresh token (RFC 9449 §5) is presented with a proof of the same key it was issued to.
  return tokenCall(client, (config, dpop) => oidc.refreshTokenGrant(config, refreshToken.reveal(), parameters, dpop), {
    resource: options.resource,
    requestedScopes: options.scope ?? options.grantedScopes,
    now: options.now,
    dpopKey: options.dpopKey,
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
    await oidc.tokenRevocation(openidConfiguration(client), token.reveal(), { token_type_hint: hint });
  } catch (err) {
    toAuthdError(err);
  }
}

// ------------------------------------------------------------ errors

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
