/**
 * Policy for serving tokens: find the credential by exact resource (or exact
 * MCP server URL), check scopes and remaining lifetime, refresh first when it
 * must, and answer with the access token only. A refresh token never leaves
 * the daemon.
 */
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import type { CredentialRef, TokenGetParams, TokenGetResult } from '../../shared/protocol/credential-types.js';
import { nearbyUrls } from '../../shared/resource-uri.js';
import { EncodedResult } from '../server/encoded-result.js';
import type { CredentialRecord, TokenStore } from '../store/token-store.js';
import { isRenewable, reloginCommand } from '../store/records.js';

/** Refreshes one credential now (single flight per resource); supplied by the refresh scheduler. */
export type Refresher = (record: CredentialRecord, reason: 'min_ttl' | 'expired' | 'forced') => Promise<CredentialRecord>;

export interface TokenServiceDeps {
  store: TokenStore;
  now: () => number;
  refresh?: Refresher | undefined;
  /**
   * Whether this caller may have the credential's token (daemon/serve/policy.ts):
   * throws `denied`; asked right after the exact match, before anything about
   * the credential (scopes, lifetime) is told or a refresh is started.
   */
  authorize?: ((record: CredentialRecord) => void | Promise<void>) | undefined;
  /** Told how the request ended, from inside it (the audit trail): no promise layer of its own on token.get's path. */
  outcome?: OutcomeListener | undefined;
}

/** How one request that hands out something made from a credential ended. Neither may throw. */
export interface OutcomeListener {
  served(): void;
  failed(err: unknown): void;
}

/** Finds the credential a reference names, exactly; never a prefix or closest match. */
export function findCredential(store: TokenStore, ref: CredentialRef): CredentialRecord | undefined {
  try {
    if (ref.resource !== undefined) return store.findByResource(ref.resource);
    if (ref.server_url !== undefined) return store.findByServerUrl(ref.server_url) ?? store.findByResource(ref.server_url);
    return undefined;
  } catch (err) {
    // A reference that is no http(s) URL is the caller's mistake: invalid_request, not internal.
    if (isAuthdError(err) && err.code === 'INVALID_RESOURCE') throw new AuthdError('invalid_request', err.message, { cause: err });
    throw err;
  }
}

/**
 * The not_found error for `ref`. When a stored credential is a near miss
 * (shared/resource-uri.ts nearbyUrls: trailing slash, http/https), it names
 * that credential in the message and in `data.did_you_mean`, instead of a
 * login command that would fail; nothing is served for it.
 * @param command the CLI command that would work with the stored URL, e.g. "mcpauthd token"
 * @param suggestLogin without a near miss, end with the login command (not for logout)
 */
export function notFoundError(store: TokenStore, ref: CredentialRef, command: string, suggestLogin = true): AuthdError {
  const name = describeRef(ref);
  const byResource = ref.resource !== undefined;
  for (const url of nearbyUrls(name)) {
    const near = byResource ? store.findByResource(url) : (store.findByServerUrl(url) ?? store.findByResource(url));
    if (near === undefined) continue;
    const meant = byResource ? near.resource : (near.serverUrls.find((u) => sameUrlShape(u, url)) ?? near.serverUrls[0] ?? near.resource);
    return new AuthdError('not_found', `no credential for ${name}; a credential exists for ${meant} (URLs must match exactly): ${command} ${meant}`, {
      data: { did_you_mean: meant, resource: near.resource },
    });
  }
  if (!suggestLogin) return new AuthdError('not_found', `no credential for ${name}`);
  return new AuthdError('not_found', `no credential for ${name}; run: mcpauthd login ${ref.server_url ?? ref.resource ?? ''}`.trimEnd());
}

/** The stored server URL that the near-miss lookup found (keys fold case and default port). */
function sameUrlShape(stored: string, looked: string): boolean {
  try {
    return new URL(stored).href === new URL(looked).href;
  } catch {
    return false;
  }
}

export function describeRef(ref: CredentialRef): string {
  return ref.resource ?? ref.server_url ?? '(nothing)';
}

/** What `token.get` answers: the access token, as JSON built around the token's once-made JSON form. */
export async function getToken(params: TokenGetParams, deps: TokenServiceDeps): Promise<EncodedResult<TokenGetResult>> {
  try {
    const result = encodeTokenResult(await credentialToServe(params, deps));
    deps.outcome?.served();
    return result;
  } catch (err) {
    deps.outcome?.failed(err);
    throw err;
  }
}

/**
 * The credential whose access token answers `params`, after every check
 * (exact match, scopes, remaining lifetime, needs_login, backoff) and a
 * refresh where one is due. Throws the wire error otherwise.
 */
export async function credentialToServe(params: TokenGetParams, deps: TokenServiceDeps): Promise<CredentialRecord> {
  let record = findCredential(deps.store, params);
  if (record === undefined) throw notFoundError(deps.store, params, 'mcpauthd token');
  const decision = deps.authorize?.(record);
  if (decision !== undefined) await decision;

  const requested = params.scopes ?? [];
  assertScopes(record, requested);

  const minTtlMs = (params.min_ttl ?? 0) * 1000;
  const now = deps.now();
  const expired = record.expiresAt !== null && record.expiresAt <= now;
  const tooShort = record.expiresAt !== null && record.expiresAt - now < minTtlMs;

  if (record.state === 'needs_login' && (expired || tooShort)) {
    throw new AuthdError('needs_login', `the credential for ${record.resource} needs a new login: ${record.lastError ?? 'its refresh token was rejected'}; run: ${reloginCommand(record)}`, {
      data: { resource: record.resource },
    });
  }
  if (expired || tooShort) {
    if (!isRenewable(record) || deps.refresh === undefined) {
      throw new AuthdError('expired', `the access token for ${record.resource} ${expired ? 'has expired' : `expires in less than ${params.min_ttl ?? 0} s`} and there is no refresh token; run: mcpauthd login ${record.serverUrls[0] ?? record.resource}`, {
        data: { resource: record.resource },
      });
    }
    // While backing off after a failure, answer from the last failure instead of
    // trying again: a busy client must not turn the backoff into a retry storm.
    if (record.state === 'error' && record.nextAttemptAt !== null && record.nextAttemptAt > now) {
      throw new AuthdError('refresh_failed', `the token for ${record.resource} ${expired ? 'has expired' : `expires in less than ${params.min_ttl ?? 0} s`} and the last refresh failed (${record.lastError ?? 'unknown error'}); next attempt ${new Date(record.nextAttemptAt).toISOString()}`, {
        data: { resource: record.resource, next_attempt_at: Math.floor(record.nextAttemptAt / 1000) },
      });
    }
    // The server already showed it issues shorter tokens than asked for: another
    // refresh cannot help, and one per call would rotate the grant for nothing.
    // The next scheduled refresh measures the lifetime again.
    const lifetime = issuedLifetimeMs(record);
    if (!expired && lifetime !== null && lifetime < minTtlMs) throw tooShortLived(record, params.min_ttl ?? 0, lifetime);
    record = await deps.refresh(record, expired ? 'expired' : 'min_ttl');
    // A refresh may narrow the scopes (the server stores what it granted).
    assertScopes(record, requested);
    if (record.expiresAt !== null && record.expiresAt - deps.now() < minTtlMs) {
      throw tooShortLived(record, params.min_ttl ?? 0, issuedLifetimeMs(record));
    }
  }

  return record;
}

/**
 * The token.get answer (TokenGetResult) as JSON, without scanning the token
 * again (daemon/encoded-result.ts). test/daemon/token-service.test.ts holds it
 * to JSON.stringify of the same answer as an object, byte for byte.
 */
export function encodeTokenResult(record: CredentialRecord): EncodedResult<TokenGetResult> {
  const expiresAt = record.expiresAt === null ? 'null' : String(Math.floor(record.expiresAt / 1000));
  return new EncodedResult<TokenGetResult>(
    `{"access_token":${record.accessToken.revealJson()},"token_type":"${servedTokenType(record)}","expires_at":${expiresAt},"resource":${JSON.stringify(record.resource)},"scopes":${JSON.stringify(record.scopes)}}`,
  );
}

/**
 * How the token is presented: DPoP when the server bound it (token_type DPoP)
 * and the daemon holds the key, Bearer otherwise (RFC 9449 §5: a server may
 * answer a proof with a Bearer token; its refresh still uses the key).
 */
export function servedTokenType(record: CredentialRecord): 'Bearer' | 'DPoP' {
  return record.dpopKey !== null && record.tokenType.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
}

/** Every requested scope must have been granted (checklist S2); else what a client needs to step up. */
function assertScopes(record: CredentialRecord, requested: readonly string[]): void {
  const missing = requested.filter((s) => !record.scopes.includes(s));
  if (missing.length === 0) return;
  // Everything a client needs to step up: log in again asking for the union.
  throw new AuthdError('insufficient_scope', `the credential for ${record.resource} was not granted: ${missing.join(' ')}`, {
    data: { resource: record.resource, granted: record.scopes, missing, scope: union(record.scopes, requested).join(' ') },
  });
}

/**
 * How long the server made the stored access token live, when a refresh issued
 * it (rotateTokens records the time): expires_at minus the refresh's commit.
 * Null after a login or without an expiry. After a later login the stored
 * refresh time is older, so this can only overstate the lifetime, which costs
 * one refresh and never withholds a token the server could issue.
 */
export function issuedLifetimeMs(record: CredentialRecord): number | null {
  if (record.expiresAt === null || record.lastRefreshAt === null || record.lastRefreshAt > record.expiresAt) return null;
  return record.expiresAt - record.lastRefreshAt;
}

function tooShortLived(record: CredentialRecord, minTtlSec: number, lifetimeMs: number | null): AuthdError {
  const expiresAt = record.expiresAt === null ? null : Math.floor(record.expiresAt / 1000);
  const lifetime = lifetimeMs === null ? null : Math.round(lifetimeMs / 1000);
  return new AuthdError(
    'expired',
    `the authorization server issues tokens for ${record.resource} that live ${lifetime === null ? 'shorter than' : `${lifetime} s, less than`} the requested min_ttl of ${minTtlSec} s; ask for a min_ttl of at most ${lifetime ?? 'the token lifetime'}`,
    { data: { resource: record.resource, expires_at: expiresAt, token_lifetime: lifetime } },
  );
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}
