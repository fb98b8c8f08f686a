/**
 * Enterprise-managed authorization (issue 16 item 5), the daemon's side:
 *
 *   runIdpLogin: `mcpauthd idp login <issuer>` once: an OIDC login with PKCE
 *     in the browser (or an ID token brought along), kept as an IdP session;
 *   enterpriseTokens: a login to an MCP server with that session and no
 *     browser: token exchange for an ID-JAG at the IdP (RFC 8693), then the
 *     jwt-bearer grant (RFC 7523) at the server's AS;
 *   renewEnterpriseCredential: the same two calls for a credential that has
 *     no refresh token, with explicit inputs (the renewal-by-grant-kind path
 *     in daemon/refresh calls it).
 *
 * An expired ID token is renewed with the session's refresh token first;
 * without one the user is told to run `mcpauthd idp login` again.
 */
import { AuthdError } from '../../shared/errors.js';
import type { IdpLoginParams, IdpLoginResult, LoginProgress } from '../../shared/protocol/login-types.js';
import { loadAuthorizationServer, type AuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import { preRegisteredClient } from '../oauth/client-auth.js';
import { jwtBearerGrant } from '../oauth/extension-grants.js';
import type { HttpPolicy } from '../oauth/http-fetch.js';
import { buildIdpAuthorizationRequest, checkIdToken, exchangeIdpCode, idpScopes, refreshIdpTokens, type IdpTokens } from '../oauth/idp-authorization.js';
import { callbackOptions } from '../oauth/login-callback-options.js';
import { LoopbackCallback } from '../oauth/loopback-callback.js';
import { createOAuthClient, type OAuthClient } from '../oauth/oauth-client.js';
import { oauthError } from '../oauth/oauth-error.js';
import { requestIdJag } from '../oauth/token-exchange.js';
import type { ValidatedTokens } from '../oauth/token-response.js';
import type { Logger } from '../os/logger.js';
import type { IdpSession, IdpSessions } from '../store/idp-sessions.js';
import { Secret } from '../store/secret.js';
import type { TokenStore } from '../store/token-store.js';
import type { LoginRegistry } from './login-registry.js';

/** An ID token this close to its expiry is renewed before it is exchanged. */
export const ID_TOKEN_MARGIN_MS = 60_000;

export interface IdpLoginDeps {
  store: TokenStore;
  logger: Logger;
  logins: LoginRegistry;
  now?: () => number;
}

/** mcpauthd's client at the IdP. */
export function idpClient(metadata: AuthorizationServerMetadata, clientId: string, clientSecret: Secret | null, http: HttpPolicy): OAuthClient {
  return createOAuthClient(metadata, preRegisteredClient(metadata, clientId, clientSecret), http);
}

/** `idp.login`: a session at the IdP, stored once its ID token passed the checks. */
export async function runIdpLogin(
  params: IdpLoginParams,
  deps: IdpLoginDeps,
  onProgress: (progress: LoginProgress) => void,
  signal?: AbortSignal,
): Promise<IdpLoginResult> {
  const now = deps.now ?? Date.now;
  const http: HttpPolicy = { allowInsecureLoopback: params.insecure_loopback === true };
  if (signal !== undefined) http.signal = signal;
  const loginId = deps.logins.begin();
  const log = deps.logger.child({ login_id: loginId });
  log.info('identity provider login started', { issuer: params.issuer });
  try {
    const { metadata } = await loadAuthorizationServer(params.issuer, http, { store: deps.store, now });
    const secret = params.client_secret === undefined ? null : new Secret(params.client_secret);
    const client = idpClient(metadata, params.client_id, secret, http);
    onProgress({ stage: 'discovered', login_id: loginId, issuer: metadata.issuer });
    let tokens: IdpTokens;
    if (params.id_token !== undefined) {
      const checked = checkIdToken(params.id_token, { issuer: metadata.issuer, clientId: params.client_id, now: now() });
      tokens = { ...checked, idToken: new Secret(params.id_token), refreshToken: params.refresh_token === undefined ? null : new Secret(params.refresh_token) };
    } else {
      tokens = await browserLogin(client, params, { loginId, logins: deps.logins, log, signal, onProgress });
    }
    const session = deps.store.idpSessions.save({ issuer: metadata.issuer, clientId: params.client_id, clientSecret: secret, ...tokens });
    log.info('identity provider login succeeded', { issuer: session.issuer, subject: session.subject, has_refresh_token: session.refreshToken !== null });
    return sessionResult(session);
  } catch (err) {
    const failure = err instanceof AuthdError && err.code !== 'login_failed' && err.code !== 'invalid_request' && err.code !== 'busy'
      ? new AuthdError('login_failed', `identity provider login failed: ${err.message}`, { cause: err, data: { ...err.data, reason: err.data?.reason ?? 'oauth_failed' } })
      : err;
    log.warn('identity provider login failed', { error: failure instanceof Error ? failure.message : 'unknown error' });
    throw failure;
  } finally {
    deps.logins.end(loginId);
  }
}

async function browserLogin(
  client: OAuthClient,
  params: IdpLoginParams,
  ctx: { loginId: string; logins: LoginRegistry; log: Logger; signal: AbortSignal | undefined; onProgress: (p: LoginProgress) => void },
): Promise<IdpTokens> {
  const callback = await LoopbackCallback.listen(callbackOptions({ timeoutMs: (params.timeout ?? 300) * 1000, signal: ctx.signal, log: ctx.log }));
  ctx.logins.attach(ctx.loginId, callback);
  try {
    const request = await buildIdpAuthorizationRequest(client, { redirectUri: callback.redirectUri, scopes: idpScopes(client, params.scopes ?? []) });
    callback.expect({ state: request.state, issuer: client.issuer, issRequired: false, authorizationUrl: request.url });
    ctx.onProgress({ stage: 'authorize_url', login_id: ctx.loginId, authorize_url: request.url, start_url: callback.startUrl, issuer: client.issuer });
    const response = await callback.wait();
    ctx.onProgress({ stage: 'exchanging', login_id: ctx.loginId, issuer: client.issuer });
    return await exchangeIdpCode(client, request, response);
  } finally {
    callback.close();
  }
}

export function sessionResult(session: Pick<IdpSession, 'issuer' | 'clientId' | 'subject' | 'idTokenExpiresAt' | 'refreshToken'>): IdpLoginResult {
  return {
    issuer: session.issuer,
    client_id: session.clientId,
    subject: session.subject,
    id_token_expires_at: session.idTokenExpiresAt === null ? null : Math.floor(session.idTokenExpiresAt / 1000),
    has_refresh_token: session.refreshToken !== null,
  };
}

/** The session for `issuer`, or an error that names the command to run. */
export function requireSession(sessions: IdpSessions, issuer: string): IdpSession {
  const session = sessions.get(issuer);
  if (session === undefined) {
    throw oauthError(`no session at identity provider ${issuer}; run: mcpauthd idp login ${issuer}`, 'oauth_failed', { idp_issuer: issuer });
  }
  return session;
}

/**
 * The session's ID token, renewed first with its refresh token when it is
 * (nearly) expired; the renewed session is stored before it is used.
 */
export async function freshIdToken(input: { session: IdpSession; client: OAuthClient; sessions: IdpSessions; now: number }): Promise<Secret> {
  const { session, client, sessions, now } = input;
  if (session.idTokenExpiresAt === null || session.idTokenExpiresAt - ID_TOKEN_MARGIN_MS > now) return session.idToken;
  if (session.refreshToken === null) {
    throw oauthError(`the session at identity provider ${session.issuer} has expired; run: mcpauthd idp login ${session.issuer}`, 'oauth_failed', {
      idp_issuer: session.issuer,
    });
  }
  const tokens = await refreshIdpTokens(client, session.refreshToken);
  return sessions.save({ issuer: session.issuer, clientId: session.clientId, clientSecret: session.clientSecret, ...tokens }).idToken;
}

export interface EnterpriseRequest {
  /** The IdP session to exchange. */
  session: IdpSession;
  /** Where it is stored, to keep a renewed ID token. */
  sessions: IdpSessions;
  /** The IdP's metadata (token endpoint). */
  idpMetadata: AuthorizationServerMetadata;
  /** mcpauthd's client at the MCP server's AS (authenticates the jwt-bearer grant). */
  asClient: OAuthClient;
  /** Sent verbatim to both (R1, R2). */
  resource: string;
  scopes: readonly string[];
  http: HttpPolicy;
  now: () => number;
}

/** ID token → ID-JAG (audience: the MCP AS's issuer) → access token for `resource`. */
export async function enterpriseTokens(request: EnterpriseRequest): Promise<ValidatedTokens> {
  const { session, sessions, idpMetadata, asClient, resource, scopes, http, now } = request;
  const client = idpClient(idpMetadata, session.clientId, session.clientSecret, http);
  const idToken = await freshIdToken({ session, client, sessions, now: now() });
  const jag = await requestIdJag(client, { idToken, resource, audience: asClient.issuer, scopes, now });
  return jwtBearerGrant(asClient, jag.assertion, { resource, scopes, now });
}

export interface EnterpriseRenewal {
  /** The credential's resource, verbatim, and its granted scopes. */
  resource: string;
  scopes: readonly string[];
  /** login_options.idp_issuer of the credential. */
  idpIssuer: string;
  /** The credential's AS (metadata) and mcpauthd's client there. */
  asClient: OAuthClient;
  store: TokenStore;
  http: HttpPolicy;
  now: () => number;
}

/**
 * Renews an enterprise credential that has no refresh token: a fresh ID-JAG
 * and a new jwt-bearer grant. The caller stores the tokens (as a refresh's
 * rotation). The IdP's metadata comes from the store's cache or the network.
 */
export async function renewEnterpriseCredential(input: EnterpriseRenewal): Promise<ValidatedTokens> {
  const session = requireSession(input.store.idpSessions, input.idpIssuer);
  const { metadata } = await loadAuthorizationServer(session.issuer, input.http, { store: input.store, now: input.now });
  return enterpriseTokens({
    session,
    sessions: input.store.idpSessions,
    idpMetadata: metadata,
    asClient: input.asClient,
    resource: input.resource,
    scopes: input.scopes,
    http: input.http,
    now: input.now,
  });
}
