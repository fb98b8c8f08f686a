/**
 * How a stored credential looks from outside: its effective state at a given
 * time, and the secret-free summary that `status` shows.
 */
import type { CredentialState, CredentialSummary } from '../../shared/protocol/credential-types.js';
import type { CredentialListing, CredentialRecord } from '../store/token-store.js';

/**
 * The state a user should see. Stored states say what the daemon knows
 * (needs_login, refreshing, error); the clock adds expiring and expired.
 * needs_login wins over everything: it is the one that asks the user to act.
 */
export function effectiveState(record: Pick<CredentialRecord, 'state' | 'expiresAt' | 'refreshAt'>, now: number): CredentialState {
  if (record.state === 'needs_login') return 'needs_login';
  if (record.expiresAt !== null && record.expiresAt <= now) return 'expired';
  if (record.state === 'refreshing') return 'refreshing';
  if (record.state === 'error') return 'error';
  if (record.refreshAt !== null && record.refreshAt <= now) return 'expiring';
  return 'valid';
}

const toSeconds = (ms: number | null): number | null => (ms === null ? null : Math.floor(ms / 1000));

export function summarize(record: CredentialListing, now: number): CredentialSummary {
  return {
    resource: record.resource,
    server_urls: record.serverUrls,
    issuer: record.issuer,
    client_id: record.clientId,
    scopes: record.scopes,
    state: effectiveState(record, now),
    expires_at: toSeconds(record.expiresAt),
    refresh_at: toSeconds(record.refreshAt),
    has_refresh_token: record.hasRefreshToken,
    last_refresh_at: toSeconds(record.lastRefreshAt),
    next_attempt_at: toSeconds(record.nextAttemptAt),
    last_error: record.lastError,
    created_at: Math.floor(record.createdAt / 1000),
    updated_at: Math.floor(record.updatedAt / 1000),
  };
}
