/**
 * When to refresh, and how long to wait after a failure. Pure functions of
 * their inputs (the random draw included), so the rules are unit-tested with
 * exact numbers.
 */

/** A refresh is due after this share of the token's lifetime, plus jitter up to MAX. */
export const REFRESH_FRACTION_MIN = 0.6;
export const REFRESH_FRACTION_MAX = 0.75;
/**
 * Never schedule a refresh sooner than this after the token was issued. An
 * authorization server that issues 1-second tokens gets one refresh a second,
 * not a busy loop; the token it issued is still stored and served.
 */
export const MIN_REFRESH_DELAY_MS = 1_000;
/** First retry after a transient failure, doubled per failure up to the cap. */
export const BACKOFF_BASE_MS = 2_000;
export const BACKOFF_CAP_MS = 5 * 60_000;

/**
 * When a token issued at `issuedAt` and expiring at `expiresAt` should be
 * refreshed: between 60% and 75% of its lifetime (about two thirds), spread
 * by `random` in [0, 1) so that many credentials of one server do not all
 * refresh in the same second. Null when the expiry is unknown.
 */
export function computeRefreshAt(issuedAt: number, expiresAt: number | null, random: number): number | null {
  if (expiresAt === null) return null;
  const lifetime = expiresAt - issuedAt;
  if (lifetime <= 0) return issuedAt + MIN_REFRESH_DELAY_MS;
  const fraction = REFRESH_FRACTION_MIN + (REFRESH_FRACTION_MAX - REFRESH_FRACTION_MIN) * clamp01(random);
  return issuedAt + Math.max(MIN_REFRESH_DELAY_MS, Math.floor(lifetime * fraction));
}

/**
 * Delay before retry number `failures` (1 = after the first failure):
 * exponential, capped, with "equal jitter" (half fixed, half random) so that a
 * server coming back is not hit by every credential at the same instant.
 */
export function backoffDelay(failures: number, random: number): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 20);
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** exponent);
  return Math.floor(ceiling / 2 + (ceiling / 2) * clamp01(random));
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 0.999_999) : 0.5;
}

/** Retry after an unknown outcome for a token whose expiry is unknown (nothing says when it stops being useful). */
export const UNKNOWN_OUTCOME_NO_EXPIRY_RETRY_MS = 60 * 60_000;

/**
 * When to present a refresh token again after a refresh whose outcome is
 * unknown (no answer within the ceiling, connection broken after sending).
 * If the server did rotate it, presenting it again revokes the grant and with
 * it the access token still being served; if the server never acted on it,
 * presenting it again works. So: not before the access token has expired
 * (nothing left to lose then), and never sooner than the ordinary backoff.
 */
export function unknownOutcomeRetryAt(now: number, expiresAt: number | null, failures: number, random: number): number {
  const backoff = now + backoffDelay(failures, random);
  return Math.max(backoff, expiresAt ?? now + UNKNOWN_OUTCOME_NO_EXPIRY_RETRY_MS);
}
