/**
 * The one way an OAuth step that is not openid-client's (client checks,
 * registration) fails, and the AS's own error words, bounded and masked.
 * openid-client's failures are translated by toAuthdError() in oauth-client.ts.
 */
import { AuthdError } from '../../shared/errors.js';
import type { FailureReason } from '../../shared/protocol/types.js';
import { serverText } from './http-fetch.js';

export function oauthError(message: string, reason: FailureReason, data: Record<string, unknown> = {}): AuthdError {
  return new AuthdError('OAUTH_FAILED', message, { data: { reason, ...data } });
}

// The AS's own words, bounded and with anything token-shaped masked.
export function describeOAuthError(body: Record<string, unknown>): string {
  const error = typeof body['error'] === 'string' ? body['error'] : undefined;
  const description = typeof body['error_description'] === 'string' ? body['error_description'] : undefined;
  if (error === undefined) return '';
  return `: ${serverText(error, 64)}${description === undefined ? '' : ` (${serverText(description, 300)})`}`;
}
