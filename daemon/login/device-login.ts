/**
 * The device path of a login (RFC 8628, issue 16 item 1), for a person
 * without a browser on this machine: a client allowed the device-code grant,
 * the device authorization request, a `device_code` progress event with what
 * the user needs (verification URI, user code, expiry; never the device code),
 * then polling until approval. `resource` goes on both requests; the tokens
 * get the same checks as the browser login's.
 */
import type { Secret } from '../store/secret.js';
import { isAuthdError } from '../../shared/errors.js';
import type { AuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import { pollDeviceToken, startDeviceAuthorization, supportsDeviceGrant } from '../oauth/device-grant.js';
import type { DeviceAuthorization } from '../oauth/device-grant.js';
import { CALLBACK_HOST, CALLBACK_PATH } from '../oauth/loopback-callback.js';
import type { OAuthClient } from '../oauth/oauth-client.js';
import { oauthError } from '../oauth/oauth-error.js';
import type { NewRegistration } from '../oauth/registration.js';
import type { ValidatedTokens } from '../oauth/token-response.js';
import { obtainClient, registerNewClient } from './client-choice.js';
import type { ClientChoice, ObtainedClient } from './client-choice.js';
import type { AttemptFacts, LoginContext } from './login-context.js';

/** What a login is for, once discovery has run. */
export interface LoginTarget {
  metadata: AuthorizationServerMetadata;
  issuer: string;
  resource: string;
  scopes: string[];
}

/** What a login path hands back to be stored. */
export interface ObtainedTokens {
  client: OAuthClient;
  unsaved: NewRegistration | undefined;
  tokens: ValidatedTokens;
  /** The DPoP key the tokens are bound to (browser login where the AS offers DPoP); absent: Bearer. */
  dpopKey?: Secret | null;
}

/** Seconds to wait for the user when the request does not say (as the browser login). */
const DEFAULT_TIMEOUT_SEC = 300;

/**
 * A device login registers a client that may also log in with a browser: the
 * portless loopback redirect URI matches any port (RFC 8252 §7.3), so a later
 * browser login can reuse it.
 */
const DEVICE_CLIENT: ClientChoice = { redirectUri: `http://${CALLBACK_HOST}${CALLBACK_PATH}`, deviceGrant: true };

export async function deviceLogin(ctx: LoginContext, facts: AttemptFacts, target: LoginTarget): Promise<ObtainedTokens> {
  const { loginId, log, now, params } = ctx;
  const { metadata, issuer, resource, scopes } = target;
  const started = now();
  if (!supportsDeviceGrant(metadata)) {
    throw oauthError(`${issuer} does not offer the device authorization grant (no device_authorization_endpoint); log in with a browser instead`, 'device_unsupported');
  }
  let obtained = await obtainClient(ctx, metadata, DEVICE_CLIENT);
  ctx.onProgress({ stage: 'registered', login_id: loginId, issuer });

  const request = { resource, scopes, now, allowInsecureLoopback: ctx.http.allowInsecureLoopback };
  let authorization: DeviceAuthorization;
  try {
    authorization = await startDeviceAuthorization(obtained.client, metadata, request);
  } catch (err) {
    if (!isUnauthorizedClient(err)) throw err;
    if (obtained.kind !== 'dynamic' || obtained.fresh === true) throw notAllowed(obtained, issuer, err);
    // A client registered earlier for the browser login only: register one that may use this grant.
    log.info('the stored client may not use the device grant; registering one that may', { issuer, client_id: obtained.client.clientId });
    obtained = await registerNewClient(ctx, metadata, DEVICE_CLIENT);
    authorization = await startDeviceAuthorization(obtained.client, metadata, request);
  }

  facts.userInvolved = true;
  ctx.onProgress({
    stage: 'device_code',
    login_id: loginId,
    verification_uri: authorization.verificationUri,
    ...(authorization.verificationUriComplete === null ? {} : { verification_uri_complete: authorization.verificationUriComplete }),
    user_code: authorization.userCode,
    expires_at: Math.floor(authorization.expiresAt / 1000),
    resource,
    issuer,
  });
  log.info('waiting for approval of the device login', { issuer, expires_at: Math.floor(authorization.expiresAt / 1000), interval_ms: authorization.intervalMs });

  const tokens = await pollDeviceToken(obtained.client, authorization, {
    now,
    deadline: started + (params.timeout ?? DEFAULT_TIMEOUT_SEC) * 1000,
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    ...(ctx.sleep === undefined ? {} : { sleep: ctx.sleep }),
  });
  return { client: obtained.client, unsaved: obtained.unsaved, tokens };
}

/**
 * RFC 8628 §3.2 says `unauthorized_client`; oidc-provider (and others) answer
 * `invalid_request` for a grant type the client lacks.
 */
function isUnauthorizedClient(err: unknown): boolean {
  const error = isAuthdError(err) ? err.data?.['error'] : undefined;
  return error === 'unauthorized_client' || error === 'invalid_request';
}

function notAllowed(obtained: ObtainedClient, issuer: string, err: unknown) {
  return oauthError(
    `client ${obtained.client.clientId} is not allowed the device authorization grant at ${issuer} (${(err as Error).message}); allow urn:ietf:params:oauth:grant-type:device_code for it there, or log in without --device`,
    'oauth_error',
    { error: 'unauthorized_client' },
  );
}
