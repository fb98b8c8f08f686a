/**
 * When a credential needs the user to log in again: the one rule behind
 * `status`'s exit status 4, its "log in again" lines and doctor's advice.
 * Its own module so that `status --json`, run per request by scripts, does
 * not load the table formatter for it.
 */
import type { CredentialSummary } from '../../shared/protocol/credential-types.js';

/**
 * True when only a new login can make the credential usable again: the
 * refresh token was rejected, or the token expired and there is no refresh
 * token. An expired token that has a refresh token is the daemon's job.
 */
export function needsLogin(c: CredentialSummary): boolean {
  return c.state === 'needs_login' || (c.state === 'expired' && !c.has_refresh_token);
}
