/**
 * The device authorization grant (RFC 8628, issue 16 item 1): the request at
 * the device authorization endpoint and the polling of the token endpoint,
 * both carrying the same `resource` (RFC 8707, R1) and going through the
 * client's custom fetch and HTTP policy. The tokens go through the same checks
 * as the browser login's (token-response.ts via tokenCall).
 *
 * The device code is a secret: it stays in a Secret and never reaches a
 * progress event, a log line or an error message. The user code and the
 * verification URI are for the user's eyes and are shown.
 *
 * Polling waits through an injected `sleep`, so tests can run it without
 * real waiting; the server's interval is honoured, `slow_down` adds 5 s
 * (RFC 8628 §3.5), a network failure doubles the interval (up to a minute).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import { assertSecureUrl } from '../../shared/resource-uri.js';
import type { AuthorizationServerMetadata } from './authorization-server-metadata.js';
import { deviceAuthorizationRequest, deviceCodeGrant } from './extension-grants.js';
import type { DeviceAuthorizationAnswer } from './extension-grants.js';
import type { OAuthClient } from './oauth-client.js';
import { oauthError } from './oauth-error.js';
import { DEVICE_CODE_GRANT_TYPE } from './registration.js';
import { Secret } from '../store/secret.js';
import type { ValidatedTokens } from './token-response.js';

export { DEVICE_CODE_GRANT_TYPE };
/** RFC 8628 §3.2: the interval when the server names none. */
export const DEFAULT_POLL_INTERVAL_MS = 5000;
/** RFC 8628 §3.5: what `slow_down` adds to the interval. */
export const SLOW_DOWN_STEP_MS = 5000;
const MAX_INTERVAL_MS = 60_000;

export interface DeviceAuthorization {
  verificationUri: string;
  verificationUriComplete: string | null;
  userCode: string;
  /** Secret: whoever holds it can redeem the user's approval. */
  deviceCode: Secret;
  /** Epoch ms. */
  expiresAt: number;
  intervalMs: number;
  resource: string;
  scopes: string[];
}

/** True when the authorization server offers the device authorization grant. */
export function supportsDeviceGrant(metadata: AuthorizationServerMetadata): boolean {
  return typeof metadata.device_authorization_endpoint === 'string' && metadata.device_authorization_endpoint !== '';
}

/** A URL shown to the user: http(s), bounded, no control characters (it goes to a terminal). */
function shownUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > 2048) throw oauthError(`the device authorization answer has no usable ${field}`, 'invalid_response');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw oauthError(`the device authorization answer's ${field} is not a URL`, 'invalid_response');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw oauthError(`the device authorization answer's ${field} is not an http(s) URL`, 'invalid_response');
  return url.href;
}

/**
 * RFC 8628 §3.1-3.2: asks for a device code and user code for `resource`.
 * @throws AuthdError OAUTH_FAILED (reason device_unsupported when the AS offers no endpoint).
 */
export async function startDeviceAuthorization(
  client: OAuthClient,
  metadata: AuthorizationServerMetadata,
  request: { resource: string; scopes: readonly string[]; now: () => number; allowInsecureLoopback: boolean },
): Promise<DeviceAuthorization> {
  const endpoint = metadata.device_authorization_endpoint;
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw oauthError(`${metadata.issuer} does not offer the device authorization grant (no device_authorization_endpoint); log in with a browser instead`, 'device_unsupported');
  }
  try {
    assertSecureUrl(endpoint, 'device authorization endpoint', request.allowInsecureLoopback);
  } catch (err) {
    throw oauthError(`${metadata.issuer}: ${(err as Error).message}`, 'insecure_endpoint');
  }
  const parameters: Record<string, string> = { resource: request.resource };
  if (request.scopes.length > 0) parameters['scope'] = request.scopes.join(' ');
  const answer: DeviceAuthorizationAnswer = await deviceAuthorizationRequest(client, parameters);
  const receivedAt = request.now();
  const userCode = answer.user_code;
  if (typeof userCode !== 'string' || !/^[\x21-\x7E ]{1,64}$/.test(userCode)) throw oauthError('the device authorization answer has no usable user_code', 'invalid_response');
  if (!Number.isFinite(answer.expires_in) || answer.expires_in <= 0) throw oauthError('the device authorization answer has no usable expires_in', 'invalid_response');
  const interval = answer.interval;
  return {
    verificationUri: shownUrl(answer.verification_uri, 'verification_uri'),
    verificationUriComplete: answer.verification_uri_complete === undefined ? null : shownUrl(answer.verification_uri_complete, 'verification_uri_complete'),
    userCode,
    deviceCode: new Secret(answer.device_code),
    expiresAt: receivedAt + answer.expires_in * 1000,
    intervalMs: typeof interval === 'number' && Number.isFinite(interval) && interval > 0 ? Math.min(interval * 1000, MAX_INTERVAL_MS) : DEFAULT_POLL_INTERVAL_MS,
    resource: request.resource,
    scopes: [...request.scopes],
  };
}

export interface PollOptions {
  now: () => number;
  /** Waits `ms` (tests pass one that does not really wait); rejects when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Epoch ms after which polling stops even if the code has not expired (the login's timeout). */
  deadline: number;
  /** Each wait before a poll, in ms (tests assert on the intervals). */
  onWait?: (ms: number) => void;
}

function deviceError(message: string, reason: 'device_expired' | 'access_denied' | 'timeout' | 'aborted'): AuthdError {
  return new AuthdError('OAUTH_FAILED', message, { data: { reason } });
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> => delay(ms, undefined, signal === undefined ? {} : { signal });

/**
 * RFC 8628 §3.4-3.5: polls the token endpoint until the user approved,
 * refused, or the code expired. Every poll carries `resource`.
 */
export async function pollDeviceToken(client: OAuthClient, authorization: DeviceAuthorization, options: PollOptions): Promise<ValidatedTokens> {
  const sleep = options.sleep ?? defaultSleep;
  let interval = authorization.intervalMs;
  const stopAt = Math.min(options.deadline, authorization.expiresAt);
  for (;;) {
    options.onWait?.(interval);
    try {
      await sleep(interval, options.signal);
    } catch {
      throw deviceError('the login was cancelled', 'aborted');
    }
    if (options.signal?.aborted === true) throw deviceError('the login was cancelled', 'aborted');
    try {
      return await deviceCodeGrant(client, authorization.deviceCode, {
        grantType: DEVICE_CODE_GRANT_TYPE,
        resource: authorization.resource,
        requestedScopes: authorization.scopes,
        now: options.now,
      });
    } catch (err) {
      if (!isAuthdError(err)) throw err;
      const error = err.code === 'OAUTH_FAILED' ? err.data?.['error'] : undefined;
      if (error === 'authorization_pending') {
        // keep polling at the same interval
      } else if (error === 'slow_down') {
        interval = Math.min(interval + SLOW_DOWN_STEP_MS, MAX_INTERVAL_MS);
      } else if (error === 'expired_token' || (error === 'invalid_grant' && options.now() >= authorization.expiresAt)) {
        // Some servers (oidc-provider) forget an expired code and say invalid_grant.
        throw deviceError('the user code expired before the login was approved; start the login again', 'device_expired');
      } else if (error === 'access_denied') {
        throw deviceError('the login was refused at the authorization server (access_denied)', 'access_denied');
      } else if (err.code === 'HTTP_FAILED' && (err.data?.reason === 'network' || err.data?.reason === 'timeout')) {
        interval = Math.min(interval * 2, MAX_INTERVAL_MS);
      } else {
        throw err;
      }
    }
    if (options.now() >= stopAt) {
      throw stopAt === authorization.expiresAt
        ? deviceError('the user code expired before the login was approved; start the login again', 'device_expired')
        : deviceError('no approval within the login timeout; the login timed out', 'timeout');
    }
  }
}
