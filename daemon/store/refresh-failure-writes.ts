/**
 * The two writes a failed refresh makes, each conditional on the credential
 * still holding the refresh token that refresh presented, in one
 * transaction, like TokenStore.rotateTokens: a slow refresh that fails after
 * a new login must not touch the new credential. TokenStore forgets the
 * cached record first and calls these with its connection and codec.
 */
import type Database from 'better-sqlite3';
import { holdsGuard, type CredentialRow } from './credential-rows.js';
import type { RenewalGuard } from './records.js';
import type { Secret } from './secret.js';
import type { RowCodec } from './sealing.js';
import type { Statements } from './statements.js';

export interface WriteContext {
  db: Database.Database;
  stmts: Statements;
  codec: RowCodec;
  now: number;
  /** The row with its secret columns opened, or undefined when gone. */
  openedRow(key: string): CredentialRow | undefined;
}

export interface FailureDetails {
  lastError: string;
  nextAttemptAt: number | null;
  failureCount: number;
}

/**
 * Records how a refresh failed (error, needs_login), and on invalid_client
 * drops the registration, but only if the credential still holds the
 * refresh token that refresh presented: a slow refresh that fails after a
 * new login must not mark the new credential, nor delete the registration
 * it uses.
 * @returns false when the credential changed or went meanwhile (nothing written).
 */
export function markRefreshFailure(
  ctx: WriteContext,
  key: string,
  presented: RenewalGuard,
  state: 'error' | 'needs_login',
  details: FailureDetails,
  dropRegistration?: { issuer: string; clientId: string },
): boolean {
  return ctx.db.transaction(() => {
    const row = ctx.openedRow(key);
    // The refresh token a refresh presented, or the access token a regrant replaces (records.ts RenewalGuard).
    if (row === undefined || !holdsGuard(row, presented)) return false;
    ctx.stmts.setState.run({
      resource_key: key,
      state,
      last_error: details.lastError,
      keep_error: 0,
      next_attempt_at: details.nextAttemptAt,
      failure_count: details.failureCount,
      now: ctx.now,
    });
    if (dropRegistration !== undefined) ctx.stmts.deleteRegistration.run(dropRegistration.issuer, dropRegistration.clientId);
    return true;
  })();
}

/**
 * A refresh answered 200 with an answer that failed our checks: the grant
 * now lives in the refresh token that answer issued (the server may have
 * retired the presented one), so it replaces the stored one; the access
 * token, its expiry and scopes stay as they were (the rejected access token
 * is never stored), and the credential is marked `error`.
 * @returns false when the credential changed or went meanwhile (nothing written).
 */
export function keepIssuedRefreshToken(ctx: WriteContext, key: string, presented: Secret, issued: Secret, details: FailureDetails): boolean {
  return ctx.db.transaction(() => {
    const row = ctx.openedRow(key);
    if (row === undefined || row.refresh_token !== presented.reveal()) return false;
    ctx.stmts.replaceRefreshToken.run(ctx.codec.sealRow('credentials', { resource_key: key, refresh_token: issued.reveal(), now: ctx.now }));
    ctx.stmts.setState.run({
      resource_key: key,
      state: 'error',
      last_error: details.lastError,
      keep_error: 0,
      next_attempt_at: details.nextAttemptAt,
      failure_count: details.failureCount,
      now: ctx.now,
    });
    return true;
  })();
}
