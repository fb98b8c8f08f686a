/**
 * The browserless branch of a login (`login` with `idp_issuer`): after
 * discovery, the IdP session's ID token is exchanged for an ID-JAG and that
 * for the MCP server's token (idp-session.ts). Stored like any login, with
 * grant_kind 'enterprise' and the IdP issuer in login_options, so status can
 * say which credentials depend on the session and renewal knows where to go.
 */
import type { LoginParams, LoginProgress, LoginResult } from '../../shared/protocol/login-types.js';
import { loadAuthorizationServer } from '../oauth/authorization-server-metadata.js';
import { preRegisteredClient } from '../oauth/client-auth.js';
import type { Discovery } from '../oauth/discovery.js';
import type { HttpPolicy } from '../oauth/http-fetch.js';
import { createOAuthClient, type OAuthClient } from '../oauth/oauth-client.js';
import { oauthError } from '../oauth/oauth-error.js';
import type { Logger } from '../os/logger.js';
import type { NewRegistration } from '../oauth/registration.js';
import { Secret } from '../store/secret.js';
import type { TokenStore } from '../store/token-store.js';
import { enterpriseTokens, requireSession } from './idp-session.js';
import { storeLogin } from './login-result.js';

export interface EnterpriseLoginContext {
  loginId: string;
  params: LoginParams & { idp_issuer: string };
  store: TokenStore;
  log: Logger;
  http: HttpPolicy;
  now: () => number;
  onProgress: (progress: LoginProgress) => void;
}

export async function enterpriseLogin(ctx: EnterpriseLoginContext, discovery: Discovery, scopes: readonly string[]): Promise<LoginResult> {
  const { params, store, log, http, now, loginId } = ctx;
  const { issuer, resource } = discovery;
  const idpIssuer = params.idp_issuer;
  const session = requireSession(store.idpSessions, idpIssuer);
  const { client, unsaved } = asClient(ctx, discovery);
  ctx.onProgress({ stage: 'registered', login_id: loginId, issuer });
  const { metadata: idpMetadata } = await loadAuthorizationServer(session.issuer, http, { store, now });
  ctx.onProgress({ stage: 'exchanging', login_id: loginId, resource, issuer });
  log.info('exchanging the identity provider session', { idp_issuer: session.issuer, issuer, resource });
  const tokens = await enterpriseTokens({ session, sessions: store.idpSessions, idpMetadata, asClient: client, resource, scopes, http, now });
  // With or without a refresh token it is renewed on schedule: a refresh, or a new exchange (daemon/refresh/regrant.ts).
  return storeLogin(store, {
    resource,
    serverUrl: params.server_url,
    issuer,
    clientId: client.clientId,
    tokens,
    grantKind: 'enterprise',
    loginOptions: { idp_issuer: session.issuer },
    registration: unsaved,
  });
}

/**
 * mcpauthd's client at the MCP server's AS, which authenticates the
 * jwt-bearer grant: the one the user names, else the one stored for this
 * issuer (never one of another issuer's). Enterprise ASes pre-register
 * their clients, so there is no dynamic registration here.
 */
function asClient(ctx: EnterpriseLoginContext, discovery: Discovery): { client: OAuthClient; unsaved?: NewRegistration } {
  const { params, store, http } = ctx;
  const metadata = discovery.authorizationServer;
  if (params.client_id !== undefined) {
    const secret = params.client_secret === undefined ? null : new Secret(params.client_secret);
    const credentials = preRegisteredClient(metadata, params.client_id, secret);
    return {
      client: createOAuthClient(metadata, credentials, http),
      unsaved: { issuer: metadata.issuer, ...credentials, registrationAccessToken: null, registrationClientUri: null, redirectUris: [], kind: 'preregistered' },
    };
  }
  const stored = store.getClientRegistration(metadata.issuer);
  if (stored === undefined) {
    throw oauthError(
      `enterprise login to ${discovery.resource} needs mcpauthd's client at ${metadata.issuer}: pass --client-id (and --client-secret-file) once`,
      'client_secret_required',
    );
  }
  return { client: createOAuthClient(metadata, stored, http) };
}
