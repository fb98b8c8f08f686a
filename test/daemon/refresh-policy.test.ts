import { describe, expect, it } from '@jest/globals';
import { BACKOFF_CAP_MS, backoffDelay, computeRefreshAt, UNKNOWN_OUTCOME_NO_EXPIRY_RETRY_MS, unknownOutcomeRetryAt } from '../../daemon/refresh/refresh-policy.js';

describe('computeRefreshAt', () => {
  it('should refresh after about two thirds of the lifetime, jittered between 60% and 75%', () => {
    expect(computeRefreshAt(0, 3_600_000, 0)).toBe(2_160_000);
    expect(computeRefreshAt(0, 3_600_000, 0.999_999)).toBeLessThanOrEqual(2_700_000);
    expect(computeRefreshAt(0, 3_600_000, 0.999_999)).toBeGreaterThan(2_699_000);
    for (let i = 0; i < 1000; i++) {
      const at = computeRefreshAt(1_000, 1_000 + 600_000, Math.random()) as number;
      expect(at).toBeGreaterThanOrEqual(1_000 + 360_000);
      expect(at).toBeLessThanOrEqual(1_000 + 450_000);
    }
  });

  it('should refresh an 8-second token about every 5 seconds, never in a loop', () => {
    expect(computeRefreshAt(0, 8_000, 0)).toBe(4_800);
    expect(computeRefreshAt(0, 8_000, 0.999_999)).toBe(5_999);
    // Pathological lifetimes still wait at least a second.
    expect(computeRefreshAt(0, 100, 0.5)).toBe(1_000);
    expect(computeRefreshAt(5_000, 5_000, 0.5)).toBe(6_000);
  });

  it('should not schedule anything when the expiry is unknown', () => {
    expect(computeRefreshAt(0, null, 0.5)).toBeNull();
  });
});

describe('backoffDelay', () => {
  it('should grow exponentially with equal jitter', () => {
    expect(backoffDelay(1, 0)).toBe(1_000);
    expect(backoffDelay(1, 0.999_999)).toBe(1_999);
    expect(backoffDelay(2, 0)).toBe(2_000);
    expect(backoffDelay(4, 0)).toBe(8_000);
  });

  it('should be capped', () => {
    for (const failures of [9, 10, 50, 10_000]) {
      expect(backoffDelay(failures, 0.999_999)).toBeLessThanOrEqual(BACKOFF_CAP_MS);
      expect(backoffDelay(failures, 0)).toBe(BACKOFF_CAP_MS / 2);
    }
  });
});

describe('unknownOutcomeRetryAt', () => {
  it('T2: should present a refresh token of unknown fate again only once the access token has expired', () => {
    expect(unknownOutcomeRetryAt(0, 30_000, 1, 0)).toBe(30_000);
    // Already expired: the ordinary backoff (1 s to 2 s after the first failure).
    expect(unknownOutcomeRetryAt(10_000, 5_000, 1, 0)).toBe(11_000);
    expect(unknownOutcomeRetryAt(0, null, 1, 0)).toBe(UNKNOWN_OUTCOME_NO_EXPIRY_RETRY_MS);
  });
});
