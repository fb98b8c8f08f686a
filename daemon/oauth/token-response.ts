/**
 * Validation of a token endpoint response, as received (before any library
 * normalised it), into typed tokens. Pure: no I/O, the clock is an argument.
 *
 * Besides the RFC 6749 §5.1 shape, this is where the seed bug is caught (R5):
 * an authorization server that ignored the resource indicator still answers
 * 200 with a perfectly valid token, only for another audience.
 */
import { AuthdError } from '../../shared/errors.js';
import { type FailureReason } from '../../shared/protocol/types.js';
import { isPlainObject } from '../../shared/protocol/framing.js';
import { Secret } from '../store/secret.js';
import { sameResource } from '../../shared/resource-uri.js';

/** Longest access-token lifetime believed; beyond it `expires_in` is treated as garbage. */
export const MAX_EXPIRES_IN_SEC = 365 * 24 * 60 * 60;

export interface ValidatedTokens {
  accessToken: Secret;
  /** `DPoP` only when the request carried a proof (RFC 9449 §5); a server may still answer Bearer. */
  tokenType: 'Bearer' | 'DPoP';
  /** Absolute expiry, epoch ms (T3), or null when the server did not say. */
  expiresAt: number | null;
  refreshToken: Secret | null;
  /** When the response arrived, epoch ms: the start of the lifetime (refresh-policy.ts schedules from it). */
  receivedAt: number;
  /** Granted scopes: the response's `scope`, else what was requested (RFC 6749 §5.1). */
  scopes: string[];
}

export interface TokenResponseContext {
  /** The resource indicator sent with the request (R5). */
  resource: string;
  /** Scopes sent with the request. */
  requestedScopes: readonly string[];
  /** Epoch ms when the response arrived. */
  now: number;
  /** The request carried a DPoP proof, so a `DPoP` token_type is expected (RFC 9449 §5). */
  dpop?: boolean;
}

function invalid(message: string, reason: FailureReason, data: Record<string, unknown> = {}): AuthdError {
  return new AuthdError('OAUTH_FAILED', message, { data: { reason, ...data } });
}

/**
 * The payload of a JWS compact token, decoded WITHOUT verifying the
 * signature: we are the client, the resource server verifies. Undefined for
 * an opaque token.
 */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1] === '') return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return isPlainObject(payload) ? payload : undefined;
  } catch {
    return undefined;
  }
}

function audienceList(aud: unknown): string[] | undefined {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return aud as string[];
  return undefined;
}

/**
 * R5: a JWT access token must name the resource in `aud`; an opaque one is
 * checked against the response's own `aud`/`resource` hints when present.
 */
export function checkAudience(accessToken: string, body: Record<string, unknown>, resource: string): void {
  const claims = decodeJwtPayload(accessToken);
  const source = claims !== undefined ? 'token aud' : 'token response aud';
  const hint = claims !== undefined ? claims['aud'] : (body['aud'] ?? body['resource']);
  if (claims === undefined && hint === undefined) return;
  const audiences = audienceList(hint);
  if (audiences !== undefined && audiences.some((aud) => aud === resource || sameResource(aud, resource))) return;
  const shown = audiences === undefined ? 'missing' : audiences.map((a) => JSON.stringify(a.slice(0, 300))).join(', ');
  throw invalid(
    `authorization server ignored the resource indicator: ${source} is ${shown}, expected ${JSON.stringify(resource)}`,
    'audience_mismatch',
    { expected: resource, audience: audiences ?? null },
  );
}

/**
 * A 200 from the token endpoint that failed a check. The server may have
 * rotated the refresh token in answering it: the refresh token it issued (if
 * any) is carried here, outside `data` and the message, so a refresh can keep
 * the grant alive (invariant 7) while its access token is never used.
 */
export class RejectedTokenResponse extends AuthdError {
  readonly #issuedRefreshToken: Secret | null;

  constructor(rejection: AuthdError, issuedRefreshToken: Secret | null) {
    super(rejection.code, rejection.message, { cause: rejection, ...(rejection.data === undefined ? {} : { data: { ...rejection.data } }) });
    this.#issuedRefreshToken = issuedRefreshToken;
  }

  /** The refresh token the rejected answer carried; null when it carried none (the presented one stays valid, RFC 6749 §6). */
  get issuedRefreshToken(): Secret | null {
    return this.#issuedRefreshToken;
  }
}

/** The `refresh_token` of a token response body, whatever else is wrong with it; null when there is none usable. */
export function issuedRefreshToken(body: unknown): Secret | null {
  const value = isPlainObject(body) ? body['refresh_token'] : undefined;
  return typeof value === 'string' && value !== '' ? new Secret(value) : null;
}

/**
 * Validates a token response body into tokens.
 * @throws RejectedTokenResponse (code OAUTH_FAILED, data.reason naming the
 * broken field) carrying the refresh token the body held, if any.
 */
export function validateTokenResponse(body: unknown, context: TokenResponseContext): ValidatedTokens {
  try {
    return checkTokenResponse(body, context);
  } catch (err) {
    if (err instanceof AuthdError) throw new RejectedTokenResponse(err, issuedRefreshToken(body));
    throw err;
  }
}

function checkTokenResponse(body: unknown, context: TokenResponseContext): ValidatedTokens {
  if (!isPlainObject(body)) throw invalid('token response is not a JSON object', 'invalid_token_response');
  const accessToken = body['access_token'];
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw invalid('token response has no "access_token"', 'invalid_token_response');
  }
  const tokenType = body['token_type'];
  const type = typeof tokenType === 'string' ? tokenType.toLowerCase() : undefined;
  // DPoP only when we asked for it with a proof: a bound token we hold no key for is useless.
  if (type !== 'bearer' && !(type === 'dpop' && context.dpop === true)) {
    const shown = typeof tokenType === 'string' ? JSON.stringify(tokenType.slice(0, 40)) : 'missing';
    const expected = context.dpop === true ? 'DPoP or Bearer' : 'Bearer (no DPoP proof was sent)';
    throw invalid(`token response has token_type ${shown}; expected ${expected}`, 'unsupported_token_type');
  }

  let expiresAt: number | null = null;
  const expiresIn = body['expires_in'];
  if (expiresIn !== undefined) {
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0 || expiresIn > MAX_EXPIRES_IN_SEC) {
      const shown = typeof expiresIn === 'number' ? String(expiresIn) : `a ${typeof expiresIn}`;
      throw invalid(`token response has expires_in ${shown}; expected seconds between 1 and ${MAX_EXPIRES_IN_SEC}`, 'invalid_expires_in');
    }
    expiresAt = context.now + Math.floor(expiresIn * 1000);
  }

  const refreshToken = body['refresh_token'];
  if (refreshToken !== undefined && (typeof refreshToken !== 'string' || refreshToken === '')) {
    throw invalid('token response has an invalid "refresh_token"', 'invalid_token_response');
  }
  const scope = body['scope'];
  if (scope !== undefined && typeof scope !== 'string') throw invalid('token response has a "scope" that is not a string', 'invalid_token_response');

  checkAudience(accessToken, body, context.resource);

  return {
    accessToken: new Secret(accessToken),
    tokenType: type === 'dpop' ? 'DPoP' : 'Bearer',
    expiresAt,
    refreshToken: refreshToken === undefined ? null : new Secret(refreshToken),
    receivedAt: context.now,
    scopes: scope === undefined ? [...context.requestedScopes] : scope.split(' ').filter((s) => s !== ''),
  };
}
