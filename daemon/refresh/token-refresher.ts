/**
 * Refreshing one credential, safely:
 * - single flight: at most one refresh per resource in the whole daemon, so a
 *   rotating refresh token is never presented twice (two presentations make
 *   the authorization server revoke the grant, checklist T2);
 * - the request carries the stored resource verbatim and no scope change (R3);
 * - the response passes the login checks (audience R5, Bearer, sane expiry)
 *   before anything is stored, and the rotation is stored in one transaction
 *   before the new token is served;
 * - failures are classified: a rejected grant asks the user to log in again, a
 *   rejected client drops the registration, anything transient backs off while
 *   the still-valid access token keeps being served;
 * - a 200 that fails those checks still may have rotated the refresh token:
 *   the refresh token it issued is stored (its access token never is), so the
 *   next attempt presents that one and the grant survives (invariant 7).
 *
 * The network call itself is injected (`RefreshGrant`), so this policy is
 * tested against a real authorization server and against staged faults alike.
 */
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import type { Logger } from '../os/logger.js';
import { backoffDelay, computeRefreshAt, unknownOutcomeRetryAt } from './refresh-policy.js';
import type { Secret } from '../store/secret.js';
import { RejectedTokenResponse } from '../oauth/token-response.js';
import type { ClientRegistration, CredentialRecord, TokenStore } from '../store/token-store.js';
import { REGRANT_KINDS, reloginCommand, type RenewalGuard } from '../store/records.js';

/** What a refresh grant returns once the response passed validation. */
export interface RefreshedTokens {
  accessToken: Secret;
  tokenType: string;
  expiresAt: number | null;
  refreshToken: Secret | null;
  scopes: string[];
}

/**
 * Performs one refresh_token grant. Must send `resource` = record.resource
 * verbatim, no `scope`, and validate the response. Errors: AuthdError with
 * `data.error` set to the OAuth error code when the server answered with one
 * (`invalid_grant`, `invalid_client`...); a 200 that failed validation as a
 * RejectedTokenResponse carrying the refresh token it issued; anything else
 * counts as transient.
 */
export type RefreshGrant = (input: { record: CredentialRecord; refreshToken: Secret; registration: ClientRegistration | undefined; signal?: AbortSignal }) => Promise<RefreshedTokens>;

export interface RegrantInput {
  record: CredentialRecord;
  registration: ClientRegistration | undefined;
  signal?: AbortSignal;
}

/**
 * Runs a credential's grant again (regrant.ts, by grant kind), for the grants
 * that need no person and give no refresh token. Errors as for RefreshGrant.
 */
export type Regrant = (input: RegrantInput) => Promise<RefreshedTokens>;

export type CredentialChange = 'refreshed' | 'needs_login' | 'deleted' | 'logged_in' | 'refresh_failed';
export type RefreshListener = (record: CredentialRecord, reason: string, origin: unknown, outcome: Promise<CredentialRecord>) => void;
export type ChangeListener = (change: CredentialChange, record: CredentialRecord | { resource: string }) => void;

export interface TokenRefresherOptions {
  store: TokenStore;
  grant: RefreshGrant;
  /** Renewal of credentials whose grant kind is in REGRANT_KINDS; without it they wait for a login. */
  regrant?: Regrant;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  onChange?: ChangeListener;
  /**
   * Called when a refresh actually starts (not when a caller joins one in
   * flight), with its trigger, the opaque `origin` its starter passed (who
   * asked, for the audit trail) and its outcome.
   */
  onRefresh?: RefreshListener;
}

type Outcome = 'needs_login' | 'drop_client' | 'transient' | 'unknown';

/** OAuth errors after which retrying with the same refresh token is pointless. */
const NEEDS_LOGIN_ERRORS = new Set(['invalid_grant', 'unauthorized_client', 'invalid_scope', 'invalid_target']);

/** OAuth errors after which running a machine grant again cannot help without the user. */
const REGRANT_NEEDS_LOGIN = new Set(['invalid_client', 'unauthorized_client', 'invalid_scope', 'invalid_target', 'unsupported_grant_type']);

export function classifyRefreshFailure(err: unknown): Outcome {
  const oauthError = isAuthdError(err) && typeof err.data?.['error'] === 'string' ? (err.data['error'] as string) : undefined;
  // The request may have been acted on without an answer reaching us (refresh-grant.ts).
  if (isAuthdError(err) && err.data?.['outcome'] === 'unknown') return 'unknown';
  if (oauthError === 'invalid_client') return 'drop_client';
  if (oauthError !== undefined && NEEDS_LOGIN_ERRORS.has(oauthError)) return 'needs_login';
  return 'transient';
}

export class TokenRefresher {
  readonly #store: TokenStore;
  readonly #grant: RefreshGrant;
  readonly #regrant: Regrant | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #inFlight = new Map<string, Promise<CredentialRecord>>();
  readonly #onChange: ChangeListener | undefined;
  readonly #onRefresh: RefreshListener | undefined;
  readonly #settledListeners = new Set<() => void>();

  constructor(options: TokenRefresherOptions) {
    this.#store = options.store;
    this.#grant = options.grant;
    this.#regrant = options.regrant;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#onChange = options.onChange;
    this.#onRefresh = options.onRefresh;
  }

  /**
   * Calls `listener` after every refresh ends, however it ended (the scheduler
   * re-arms on it). Returns the function that removes it again.
   */
  addSettledListener(listener: () => void): () => void {
    this.#settledListeners.add(listener);
    return () => this.#settledListeners.delete(listener);
  }

  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /**
   * Resolves when no refresh is in flight, whoever started it (the scheduler,
   * token.get with min_ttl, credential.refresh): shutdown waits on this before
   * it closes the store, so an answered rotation is always committed.
   */
  async whenIdle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight.values()]);
  }

  isInFlight(resourceKey: string): boolean {
    return this.#inFlight.has(resourceKey);
  }

  /**
   * Refreshes the credential now, or joins the refresh already in flight for it.
   * Resolves with the stored record after the rotation committed.
   * @throws AuthdError needs_login (grant rejected) or refresh_failed (transient; retried later)
   */
  refresh(record: CredentialRecord, reason: string, origin?: unknown): Promise<CredentialRecord> {
    const running = this.#inFlight.get(record.resourceKey);
    if (running !== undefined) return running;
    const work = this.#run(record.resourceKey, reason).finally(() => {
      this.#inFlight.delete(record.resourceKey);
      for (const listener of this.#settledListeners) listener();
    });
    this.#inFlight.set(record.resourceKey, work);
    this.#onRefresh?.(record, reason, origin, work);
    return work;
  }

  async #run(key: string, reason: string): Promise<CredentialRecord> {
    // Re-read: the caller's copy may predate a rotation that just committed.
    const record = this.#store.getByKey(key);
    if (record === undefined) throw new AuthdError('not_found', 'the credential was deleted');
    // No refresh token to protect: the grant is simply run again (an interrupted run included).
    if (REGRANT_KINDS.includes(record.grantKind)) return this.#runRegrant(record, reason);
    const presented = record.refreshToken;
    if (presented === null) {
      throw new AuthdError('expired', `the token for ${record.resource} cannot be refreshed: the authorization server issued no refresh token; run: mcpauthd login ${record.serverUrls[0] ?? record.resource}`);
    }
    // Marked refreshing, yet no refresh of this process holds it (refresh()
    // joins those): a daemon died during its refresh, or a rotation could not
    // be stored. The server may have rotated the token: the same rule as for
    // an unanswered refresh, unless the user forces it or nothing is left to lose.
    if (record.state === 'refreshing' && reason !== 'forced' && (record.expiresAt === null || record.expiresAt > this.#now())) {
      const interrupted = new AuthdError('HTTP_FAILED', 'the previous refresh was interrupted before its answer was stored', { data: { reason: 'interrupted', outcome: 'unknown' } });
      return this.#unknown(record, presented, interrupted, describeFailure(interrupted));
    }
    const registration = this.#store.getClientRegistration(record.issuer, record.clientId);
    // Persisted before the request: if the daemon dies between the server's
    // answer and our commit, a restart sees "refreshing" and knows the stored
    // refresh token may already be spent.
    this.#store.setState(key, 'refreshing', { nextAttemptAt: record.nextAttemptAt, failureCount: record.failureCount });
    this.#logger.debug('refreshing', { resource: record.resource, reason });

    let tokens: RefreshedTokens;
    try {
      tokens = await this.#grant({ record, refreshToken: presented, registration });
    } catch (err) {
      return this.#fail(record, presented, err);
    }

    const issuedAt = this.#now();
    const rotated = this.#store.rotateTokens(key, presented, {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresAt: tokens.expiresAt,
      refreshToken: tokens.refreshToken,
      refreshAt: computeRefreshAt(issuedAt, tokens.expiresAt, this.#random()),
      scopes: tokens.scopes.length > 0 ? tokens.scopes : record.scopes,
    });
    // Someone replaced the credential meanwhile (a new login). Theirs wins;
    // what we got is dropped, and the server's grant for it dies with it.
    if (rotated === undefined) return this.#superseded(key);
    // Times in log fields are Unix seconds, like status --json (docs/protocol.md).
    this.#logger.info('refreshed', { resource: rotated.resource, expires_at: rotated.expiresAt === null ? null : Math.floor(rotated.expiresAt / 1000), rotated: tokens.refreshToken !== null });
    this.#onChange?.('refreshed', rotated);
    return rotated;
  }

  /**
   * Renews a credential by running its grant again. The writes are conditional
   * on the access token it replaces (a newer login wins, as for a rotation).
   */
  async #runRegrant(record: CredentialRecord, reason: string): Promise<CredentialRecord> {
    const key = record.resourceKey;
    const guard: RenewalGuard = { accessToken: record.accessToken };
    this.#store.setState(key, 'refreshing', { nextAttemptAt: record.nextAttemptAt, failureCount: record.failureCount });
    this.#logger.debug('renewing by running the grant again', { resource: record.resource, grant_kind: record.grantKind, reason });
    let tokens: RefreshedTokens;
    try {
      if (this.#regrant === undefined) throw new AuthdError('OAUTH_FAILED', `this daemon cannot renew ${record.grantKind} credentials`, { data: { error: 'unsupported_grant_type' } });
      tokens = await this.#regrant({ record, registration: this.#store.getClientRegistration(record.issuer, record.clientId) });
    } catch (err) {
      return this.#regrantFailed(record, guard, err);
    }
    const renewed = this.#store.rotateTokens(key, guard, {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresAt: tokens.expiresAt,
      refreshToken: null,
      refreshAt: computeRefreshAt(this.#now(), tokens.expiresAt, this.#random()),
      scopes: tokens.scopes.length > 0 ? tokens.scopes : record.scopes,
    });
    if (renewed === undefined) return this.#superseded(key);
    this.#logger.info('renewed', { resource: renewed.resource, grant_kind: renewed.grantKind, expires_at: renewed.expiresAt === null ? null : Math.floor(renewed.expiresAt / 1000) });
    this.#onChange?.('refreshed', renewed);
    return renewed;
  }

  /**
   * A regrant that failed. A rejected client, scope or grant type needs the
   * user (the registration is kept: its key cannot be made again); anything
   * else backs off and tries again, a refused jwt-bearer assertion included,
   * since the platform replaces the file.
   */
  #regrantFailed(record: CredentialRecord, guard: RenewalGuard, err: unknown): CredentialRecord {
    const key = record.resourceKey;
    const oauth = isAuthdError(err) && typeof err.data?.['error'] === 'string' ? (err.data['error'] as string) : undefined;
    const needsUser = oauth !== undefined && (REGRANT_NEEDS_LOGIN.has(oauth) || (oauth === 'invalid_grant' && record.grantKind !== 'jwt_bearer'));
    const reason = describeFailure(err);
    const failures = record.failureCount + 1;
    if (needsUser) {
      if (!this.#store.markRefreshFailure(key, guard, 'needs_login', { lastError: reason, nextAttemptAt: null, failureCount: failures })) return this.#superseded(key);
      this.#logger.warn('renewal rejected; a new login is needed', { resource: record.resource, grant_kind: record.grantKind, reason });
      this.#onChange?.('needs_login', record);
      throw new AuthdError('needs_login', `the authorization server refused to renew the token for ${record.resource} (${reason}); run: ${reloginCommand(record)}`, {
        cause: err,
        data: { resource: record.resource },
      });
    }
    const nextAttemptAt = this.#now() + backoffDelay(failures, this.#random());
    if (!this.#store.markRefreshFailure(key, guard, 'error', { lastError: reason, nextAttemptAt, failureCount: failures })) return this.#superseded(key);
    this.#logger.warn('renewal failed; will retry', { resource: record.resource, grant_kind: record.grantKind, reason, failures, next_attempt_at: Math.floor(nextAttemptAt / 1000) });
    this.#onChange?.('refresh_failed', record);
    throw new AuthdError('refresh_failed', `renewing the token for ${record.resource} failed: ${reason}; retrying automatically`, { cause: err });
  }

  /**
   * Records a failed refresh, conditional on the credential still holding the
   * refresh token this refresh presented (checklist T2): a newer login wins
   * over a late failure exactly as it wins over a late success.
   */
  #fail(record: CredentialRecord, presented: Secret, err: unknown): CredentialRecord {
    if (err instanceof RejectedTokenResponse && err.issuedRefreshToken !== null && !err.issuedRefreshToken.equals(presented)) {
      return this.#keepIssuedRefreshToken(record, presented, err.issuedRefreshToken, err);
    }
    const outcome = classifyRefreshFailure(err);
    const reason = describeFailure(err);
    const key = record.resourceKey;
    if (outcome === 'unknown') return this.#unknown(record, presented, err, reason);
    if (outcome === 'transient') {
      const failures = record.failureCount + 1;
      const nextAttemptAt = this.#now() + backoffDelay(failures, this.#random());
      if (!this.#store.markRefreshFailure(key, presented, 'error', { lastError: reason, nextAttemptAt, failureCount: failures })) return this.#superseded(key);
      this.#logger.warn('refresh failed; will retry', { resource: record.resource, reason, failures, next_attempt_at: Math.floor(nextAttemptAt / 1000) });
      this.#onChange?.('refresh_failed', record);
      throw new AuthdError('refresh_failed', `refreshing the token for ${record.resource} failed: ${reason}; retrying automatically`, { cause: err });
    }
    // invalid_client: the registration is gone at the server; a new login will register again (C3).
    const drop = outcome === 'drop_client' ? { issuer: record.issuer, clientId: record.clientId } : undefined;
    const marked = this.#store.markRefreshFailure(key, presented, 'needs_login', { lastError: reason, nextAttemptAt: null, failureCount: record.failureCount + 1 }, drop);
    if (!marked) return this.#superseded(key);
    this.#logger.warn('refresh rejected; a new login is needed', { resource: record.resource, reason });
    this.#onChange?.('needs_login', record);
    throw new AuthdError('needs_login', `the authorization server rejected the refresh for ${record.resource} (${reason}); run: mcpauthd login ${record.serverUrls[0] ?? record.resource}`, {
      cause: err,
      data: { resource: record.resource },
    });
  }

  /**
   * The server answered 200, but the answer failed our checks (wrong
   * audience, not Bearer, absurd expiry...). A rotating server has retired
   * the presented refresh token in answering: presenting it again would
   * revoke the grant. So the grant now lives in the refresh token the answer
   * issued, stored at once (conditional, like a rotation); the rejected access
   * token is dropped unseen, the old one is served until it expires; the
   * credential is `error` naming the failed check, and the retry after backoff
   * presents the new refresh token.
   */
  #keepIssuedRefreshToken(record: CredentialRecord, presented: Secret, issued: Secret, err: RejectedTokenResponse): CredentialRecord {
    const key = record.resourceKey;
    const failures = record.failureCount + 1;
    const nextAttemptAt = this.#now() + backoffDelay(failures, this.#random());
    const check = typeof err.data?.['reason'] === 'string' ? (err.data['reason'] as string) : 'invalid_token_response';
    const reason = `the answer failed the ${check} check: ${err.message}`.slice(0, 240);
    const lastError = `${reason}; its access token was not used, its new refresh token was kept`;
    if (!this.#store.keepIssuedRefreshToken(key, presented, issued, { lastError, nextAttemptAt, failureCount: failures })) return this.#superseded(key);
    const retry = new Date(nextAttemptAt).toISOString();
    this.#logger.warn('refresh answer rejected; its new refresh token was kept, its access token dropped', {
      resource: record.resource,
      reason,
      failures,
      next_attempt_at: retry,
    });
    this.#onChange?.('refresh_failed', record);
    throw new AuthdError(
      'refresh_failed',
      `refreshing the token for ${record.resource} failed: ${reason}; the current access token is served until it expires, and the refresh is tried again at ${retry} with the refresh token the server issued`,
      { cause: err, data: { resource: record.resource, check, next_attempt_at: Math.floor(nextAttemptAt / 1000) } },
    );
  }

  /**
   * No answer, or a connection broken after the request went out: the server
   * may have rotated the refresh token. Not needs_login (that would be a
   * guess), not a quick retry (presenting a rotated token again revokes the
   * grant and the access token still being served): state error, "outcome
   * unknown", the credential kept, and the same refresh token presented again
   * only once the access token has expired (refresh-policy.ts). A user who
   * wants to try sooner runs `mcpauthd refresh`; the risk is the same.
   */
  #unknown(record: CredentialRecord, presented: Secret, err: unknown, reason: string): CredentialRecord {
    const key = record.resourceKey;
    const failures = record.failureCount + 1;
    const nextAttemptAt = unknownOutcomeRetryAt(this.#now(), record.expiresAt, failures, this.#random());
    const lastError = `outcome unknown: ${reason}`.slice(0, 300);
    if (!this.#store.markRefreshFailure(key, presented, 'error', { lastError, nextAttemptAt, failureCount: failures })) return this.#superseded(key);
    const retry = new Date(nextAttemptAt).toISOString();
    this.#logger.warn('refresh outcome unknown; the refresh token is kept and presented again when the access token has expired', {
      resource: record.resource,
      reason,
      next_attempt_at: Math.floor(nextAttemptAt / 1000),
    });
    this.#onChange?.('refresh_failed', record);
    throw new AuthdError(
      'refresh_failed',
      `the outcome of refreshing the token for ${record.resource} is unknown (${reason}); the current access token is served until it expires, then the refresh is tried again at ${retry} (if the server did rotate the refresh token, that needs a new login: mcpauthd login ${record.serverUrls[0] ?? record.resource})`,
      { cause: err, data: { resource: record.resource, outcome: 'unknown', next_attempt_at: Math.floor(nextAttemptAt / 1000) } },
    );
  }

  /** The outcome of a refresh whose credential was replaced meanwhile: the newer credential, untouched. */
  #superseded(key: string): CredentialRecord {
    const current = this.#store.getByKey(key);
    if (current === undefined) throw new AuthdError('not_found', 'the credential was deleted during its refresh');
    this.#logger.info('refresh outcome dropped: the credential was replaced meanwhile', { resource: current.resource });
    return current;
  }
}

/** A one-line reason for status and logs; AuthdError messages are written to be safe to show. */
function describeFailure(err: unknown): string {
  if (isAuthdError(err)) {
    const oauthError = typeof err.data?.['error'] === 'string' ? `${err.data['error'] as string}: ` : '';
    return `${oauthError}${err.message}`.slice(0, 300);
  }
  return 'unexpected error (see the daemon log)';
}
