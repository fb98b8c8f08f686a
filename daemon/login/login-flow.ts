/**
 * The daemon's login, from an MCP server URL to a stored credential:
 *
 *   discovery (D1-D7) → PKCE check (A1) → scopes (S1-S3)
 *   → loopback listener (A4) → client: pre-registered, CIMD or DCR (C1-C3)
 *   → authorization URL (A2, R1) → callback (A2, A3) → code exchange (R1, R4)
 *   → token checks (R5, T3) → store.
 *
 * Nothing is stored as a credential unless every step passed; a failure at
 * any step leaves the store's credentials as they were. Every failure
 * reaches the caller as AuthdError('login_failed') with `data.reason`.
 *
 * The logins in progress live in a LoginRegistry (login-registry.ts) the
 * daemon passes in; logout's revocation (T4) is in logout.ts.
 */
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import type { ErrorCode, ErrorData } from '../../shared/errors.js';
import type { FailureReason, WireErrorCode } from '../../shared/protocol/types.js';
import type { LoginParams, LoginProgress, LoginResult } from '../../shared/protocol/login-types.js';
import { WIRE_ERROR_CODES } from '../../shared/protocol/types.js';
import { discover } from '../oauth/discovery.js';
import type { AuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import { supportsDeviceGrant } from '../oauth/device-grant.js';
import { parseFixedRedirect } from '../../shared/fixed-redirect.js';
import type { FixedRedirect } from '../../shared/fixed-redirect.js';
import { serverText } from '../oauth/http-fetch.js';
import type { FetchFunction, HttpPolicy } from '../oauth/http-fetch.js';
import type { Logger } from '../os/logger.js';
import { callbackOptions } from '../oauth/login-callback-options.js';
import { LoopbackCallback } from '../oauth/loopback-callback.js';
import type { LoginRegistry } from './login-registry.js';
import { assertPkceS256, buildAuthorizationRequest, exchangeAuthorizationCode } from '../oauth/oauth-client.js';
import { obtainClient } from './client-choice.js';
import { deviceLogin } from './device-login.js';
import type { LoginTarget, ObtainedTokens } from './device-login.js';
import type { AttemptFacts, LoginContext } from './login-context.js';
import { enterpriseLogin } from './enterprise-login.js';
import { newDpopKeyFor } from '../oauth/dpop.js';
import { selectScopes } from '../oauth/scope-selection.js';
import type { CredentialRecord, TokenStore } from '../store/token-store.js';
import { storeLogin } from './login-result.js';

/** Seconds to wait for the user when the request does not say. */
export const DEFAULT_LOGIN_TIMEOUT_SEC = 300;

export interface LoginDeps {
  store: TokenStore;
  logger: Logger;
  /** The daemon's logins in progress (one per daemon). */
  logins: LoginRegistry;
  /** Outbound fetch (tests); default the global one. */
  fetch?: FetchFunction;
  /** Clock, epoch ms; default Date.now. */
  now?: () => number;
  /** Waits between device-grant polls; default a real timer (tests pass their own). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}


/**
 * Runs one login. Progress goes to `onProgress` (the `authorize_url` stage
 * carries the URL to open); the promise settles when the login is stored or
 * has failed.
 * @throws AuthdError `login_failed` (with data.reason), or `busy` / `invalid_request`.
 */
export async function runLogin(
  params: LoginParams,
  deps: LoginDeps,
  onProgress: (progress: LoginProgress) => void,
  signal?: AbortSignal,
): Promise<LoginResult> {
  const loginId = deps.logins.begin();
  const http: HttpPolicy = { allowInsecureLoopback: params.insecure_loopback === true };
  if (deps.fetch !== undefined) http.fetch = deps.fetch;
  if (signal !== undefined) http.signal = signal;
  const ctx: LoginContext = {
    loginId,
    logins: deps.logins,
    params,
    store: deps.store,
    log: deps.logger.child({ login_id: loginId }),
    http,
    now: deps.now ?? Date.now,
    signal,
    onProgress,
    ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
  };
  ctx.log.info('login started', { server_url: params.server_url });
  try {
    const result = await loginWithOneRetry(ctx);
    ctx.log.info('login succeeded', { resource: result.resource, issuer: result.issuer, scopes: result.scopes });
    return result;
  } catch (err) {
    const failure = toLoginFailure(err);
    ctx.log.warn('login failed', { reason: failure.data?.['reason'], error: failure.message });
    throw failure;
  } finally {
    deps.logins.end(loginId);
  }
}

async function loginWithOneRetry(ctx: LoginContext): Promise<LoginResult> {
  const facts: AttemptFacts = { metadataFromCache: false, userInvolved: false };
  try {
    return await attemptLogin(ctx, facts, false);
  } catch (err) {
    // Stored AS metadata may be what failed (an endpoint moved): fetch it again, once,
    // but only while the user has not been sent to the browser yet.
    const retry = facts.metadataFromCache && !facts.userInvolved && isAuthdError(err) && (err.code === 'HTTP_FAILED' || err.code === 'OAUTH_FAILED');
    if (!retry) throw err;
    ctx.log.info('retrying with fresh authorization server metadata', { error: err.message });
    return attemptLogin(ctx, { metadataFromCache: false, userInvolved: false }, true);
  }
}

async function attemptLogin(ctx: LoginContext, facts: AttemptFacts, refreshMetadata: boolean): Promise<LoginResult> {
  const { params, store, log, http, now, loginId } = ctx;
  if (params.client_secret !== undefined && params.client_id === undefined) {
    throw new AuthdError('invalid_request', 'a client secret needs the client id it belongs to');
  }
  if (params.client_id !== undefined && params.client_metadata_url !== undefined) {
    throw new AuthdError('invalid_request', 'give a client id or a client metadata document URL, not both');
  }
  const givenRedirect = params.redirect_uri === undefined ? undefined : parseFixedRedirect(params.redirect_uri);

  const previous = findByServerUrl(store, params.server_url);
  const discovery = await discover(params.server_url, {
    http,
    cache: { store, now, forceRefresh: refreshMetadata },
    ...(params.resource === undefined ? {} : { fallbackResource: params.resource }),
    ...(previous === undefined ? {} : { preferredIssuer: previous.issuer }),
  });
  facts.metadataFromCache = discovery.metadataFromCache;
  if (discovery.ignoredResource !== undefined) {
    log.warn('the given resource was ignored: the server publishes protected resource metadata', {
      given: discovery.ignoredResource,
      resource: discovery.resource,
    });
  }
  const { issuer, resource, authorizationServer: metadata } = discovery;
  const idpIssuer = params.idp_issuer;
  const existing = store.findByResource(resource);
  // A fixed redirect given once is kept with the credential and used again (issue 16 item 2).
  const keptRedirect = givenRedirect ?? storedRedirect(previous ?? existing, log);
  const personLogin = params.grant === undefined && idpIssuer === undefined;
  const useDevice = personLogin && chooseDevice(params.device, metadata, keptRedirect !== undefined);
  // Only the browser's authorization code sends anyone to the authorization endpoint: PKCE is not a device, machine or enterprise login's business.
  if (personLogin && !useDevice) assertPkceS256(metadata);
  ctx.onProgress({ stage: 'discovered', login_id: loginId, resource, issuer });
  log.info('discovered', { resource, issuer, legacy: discovery.legacy, metadata_from_cache: discovery.metadataFromCache, device: useDevice });

  // S2: a new login for a resource never narrows what its credential had.
  const scopes = selectScopes({
    requested: params.scopes,
    challenged: discovery.challenge?.scope,
    resourceScopes: discovery.prm?.scopesSupported,
    serverScopes: metadata.scopes_supported,
    granted: existing !== undefined && existing.issuer === issuer ? existing.scopes : undefined,
  });
  if (params.grant !== undefined) {
    const { machineLogin } = await import('./machine-login.js');
    return machineLogin({ params: { ...params, grant: params.grant }, store, log, http, now, loginId, onProgress: ctx.onProgress, metadata, resource, scopes });
  }
  if (idpIssuer !== undefined) {
    return enterpriseLogin({ loginId, params: { ...params, idp_issuer: idpIssuer }, store, log, http, now, onProgress: ctx.onProgress }, discovery, scopes);
  }

  const redirect = useDevice ? undefined : keptRedirect;
  const target = { metadata, issuer, resource, scopes };
  const { client, unsaved, tokens, dpopKey } = useDevice ? await deviceLogin(ctx, facts, target) : await browserLogin(ctx, facts, target, redirect);

  return storeLogin(store, {
    resource,
    serverUrl: params.server_url,
    issuer,
    clientId: client.clientId,
    tokens,
    dpopKey,
    grantKind: useDevice ? 'device_code' : 'authorization_code',
    // Kept through a device login too: the next browser login goes the way the user set up.
    loginOptions: keptRedirect === undefined ? null : { redirect_uri: keptRedirect.uri },
    // A user-supplied client is kept only once it has proved to work.
    registration: unsaved,
  });
}

/**
 * 'required' always (the device step says so when the AS cannot); 'preferred'
 * only where the AS offers it and no fixed redirect was chosen for this
 * credential (a user who set one up, e.g. to forward its port, keeps that way).
 */
function chooseDevice(device: LoginParams['device'], metadata: AuthorizationServerMetadata, fixedRedirect: boolean): boolean {
  if (device === 'required') return true;
  return device === 'preferred' && !fixedRedirect && supportsDeviceGrant(metadata);
}

/** The fixed redirect an earlier login of this credential used, if it still parses. */
function storedRedirect(record: CredentialRecord | undefined, log: LoginContext['log']): FixedRedirect | undefined {
  const stored = record?.loginOptions?.['redirect_uri'];
  if (typeof stored !== 'string') return undefined;
  try {
    return parseFixedRedirect(stored);
  } catch {
    log.warn('ignoring a stored redirect URI that no longer parses', { resource: record?.resource });
    return undefined;
  }
}

/** The browser login: loopback listener, authorization URL, callback, code exchange. */
async function browserLogin(ctx: LoginContext, facts: AttemptFacts, target: LoginTarget, redirect: FixedRedirect | undefined): Promise<ObtainedTokens> {
  const { params, log, now, loginId } = ctx;
  const { metadata, issuer, resource, scopes } = target;
  const callback = await LoopbackCallback.listen({
    ...callbackOptions({ timeoutMs: (params.timeout ?? DEFAULT_LOGIN_TIMEOUT_SEC) * 1000, signal: ctx.signal, log }),
    ...(redirect === undefined ? {} : { redirect }),
  });
  ctx.logins.attach(loginId, callback);
  try {
    const { client, kind, unsaved } = await obtainClient(ctx, metadata, { redirectUri: callback.redirectUri });
    ctx.onProgress({ stage: 'registered', login_id: loginId, issuer });

    const request = await buildAuthorizationRequest(client, { redirectUri: callback.redirectUri, resource, scopes });
    const issRequired = metadata.authorization_response_iss_parameter_supported === true;
    callback.expect({ state: request.state, issuer, issRequired, authorizationUrl: request.url });
    facts.userInvolved = true;
    // start_url is what a browser on this machine opens (no state or challenge in its argv);
    // authorize_url is for a browser elsewhere, whose redirect the user pastes back.
    ctx.onProgress({
      stage: 'authorize_url',
      login_id: loginId,
      authorize_url: request.url,
      start_url: callback.startUrl,
      ...(redirect === undefined ? {} : { redirect_uri: redirect.uri }),
      resource,
      issuer,
    });

    const response = await callback.wait();
    ctx.onProgress({ stage: 'exchanging', login_id: loginId, resource, issuer });
    // RFC 9449: a new key per credential when the AS offers DPoP; it signs every later refresh too.
    const dpopKey = newDpopKeyFor(metadata, log);
    try {
      return { client, unsaved, tokens: await exchangeAuthorizationCode(client, request, response, now, dpopKey), dpopKey };
    } catch (err) {
      if (kind === 'dynamic' && isAuthdError(err) && err.data?.['error'] === 'invalid_client') {
        // C3: the AS forgot our registration. Drop it so the next login registers afresh;
        // this one cannot continue, the code was issued to the old client.
        ctx.store.deleteClientRegistration(issuer, client.clientId);
        throw new AuthdError('OAUTH_FAILED', `${issuer} no longer knows client ${client.clientId}; its registration was dropped, log in again`, {
          cause: err,
          data: { reason: 'invalid_client' },
        });
      }
      throw err;
    }
  } finally {
    callback.close();
  }
}

function findByServerUrl(store: TokenStore, serverUrl: string): CredentialRecord | undefined {
  try {
    return store.findByServerUrl(serverUrl);
  } catch (err) {
    // Not in canonical form: refuse now, before the user approves anything that could not be stored.
    if (isAuthdError(err, 'invalid_request')) throw err;
    // Not a valid URL: discovery reports that properly.
    return undefined;
  }
}

const LOCAL_TO_REASON: Partial<Record<ErrorCode, FailureReason>> = {
  INVALID_RESOURCE: 'invalid_url',
  HTTP_FAILED: 'http_failed',
  DISCOVERY_FAILED: 'discovery_failed',
  OAUTH_FAILED: 'oauth_failed',
};

/**
 * Wire codes pass through (busy, invalid_request, ...); every local failure
 * becomes `login_failed` with its message and a stable `reason`.
 */
function toLoginFailure(err: unknown): AuthdError {
  if (isAuthdError(err)) {
    if (WIRE_ERROR_CODES.has(err.code) && err.code !== 'internal') return err;
    const reason: FailureReason = err.data?.reason ?? LOCAL_TO_REASON[err.code] ?? 'internal';
    const data: ErrorData = { ...err.data, reason };
    return new AuthdError('login_failed' satisfies WireErrorCode, `login failed: ${err.message}`, { cause: err, data });
  }
  const message = err instanceof Error ? serverText(err.message, 300) : 'unknown error';
  return new AuthdError('login_failed', `login failed: unexpected error: ${message}`, { cause: err, data: { reason: 'internal' } });
}
