/**
 * What `credential.delete` tells the user about revocation: which tokens the
 * authorization server revoked and, when the access token was not revoked,
 * until when it stays valid there. Never "tokens revoked" when one was not.
 */
import type { DeleteResult } from '../../shared/protocol/credential-types.js';
import type { LogoutResult } from './logout.js';
import type { CredentialRecord } from '../store/token-store.js';

export type RevocationReport = Pick<DeleteResult, 'revoked' | 'revoked_tokens' | 'access_token_expires_at' | 'revocation_note'>;

export function revocationReport(record: CredentialRecord, outcome: LogoutResult, now: number): RevocationReport {
  const accessRevoked = outcome.revokedTokens.includes('access_token');
  const stillValid = !accessRevoked && (record.expiresAt === null || record.expiresAt > now);
  const until =
    record.expiresAt === null ? 'until it expires (the authorization server gave no expiry)' : `until ${new Date(Math.floor(record.expiresAt / 1000) * 1000).toISOString()}`;
  const notes: string[] = [];
  if (!outcome.revocationSupported) {
    notes.push(outcome.errors[0] ?? 'the authorization server offers no revocation; nothing was revoked');
  } else {
    notes.push(...outcome.errors);
    if (outcome.declinedTokens.includes('access_token')) notes.push('the authorization server does not revoke access tokens');
  }
  if (stillValid) notes.push(`the access token was not revoked and stays valid ${until}`);
  return {
    revoked: outcome.revoked,
    revoked_tokens: outcome.revokedTokens,
    access_token_expires_at: stillValid && record.expiresAt !== null ? Math.floor(record.expiresAt / 1000) : null,
    revocation_note: notes.length === 0 ? null : notes.join('; '),
  };
}
