/**
 * Scheduling and failure policy with an injected clock and a scripted grant.
 * The real authorization server is in refresh-oidc.test.ts; these are the
 * faults and timings a real server cannot be made to show on demand.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { RefreshScheduler } from '../../daemon/refresh/refresh-scheduler.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenRefresher, type RefreshGrant, type RefreshedTokens } from '../../daemon/refresh/token-refresher.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { AuthdError } from '../../shared/errors.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { quietLogger } from '../helpers/test-logger.js';

const SEC = 1000;
const logger = quietLogger();

interface Harness {
  clock: ManualClock;
  store: TokenStore;
  refresher: TokenRefresher;
  scheduler: RefreshScheduler;
  calls: { resource: string; refreshToken: string; at: number }[];
  setGrant(g: (input: Parameters<RefreshGrant>[0]) => Promise<RefreshedTokens>): void;
}

function harness(options: { concurrency?: number; lifetimeMs?: number } = {}): Harness {
  const clock = new ManualClock();
  const store = TokenStore.open(':memory:', { inMemory: true, now: () => clock.now() });
  const calls: Harness['calls'] = [];
  const lifetime = options.lifetimeMs ?? 8 * SEC;
  let counter = 0;
  let impl = async (input: Parameters<RefreshGrant>[0]): Promise<RefreshedTokens> => {
    counter += 1;
    return { accessToken: new Secret(`at-${counter}`), tokenType: 'Bearer', expiresAt: clock.now() + lifetime, refreshToken: new Secret(`rt-${counter}`), scopes: input.record.scopes };
  };
  const grant: RefreshGrant = (input) => {
    calls.push({ resource: input.record.resource, refreshToken: input.refreshToken.reveal(), at: clock.now() });
    return impl(input);
  };
  // random() = 0.5: refresh at 67.5% of the lifetime, backoff at 75% of its ceiling.
  const refresher = new TokenRefresher({ store, grant, logger, now: () => clock.now(), random: () => 0.5 });
  const scheduler = new RefreshScheduler({ store, refresher, clock, logger, ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }), sweepSec: 30 });
  return { clock, store, refresher, scheduler, calls, setGrant: (g) => (impl = g) };
}

function plant(h: Harness, i: number, expiresInMs: number, refreshInMs: number): string {
  const r = h.store.saveCredential({
    resource: `https://mcp${i}.example.com/mcp`, serverUrl: `https://mcp${i}.example.com/mcp`, issuer: 'https://as.example.com', clientId: 'c',
    scopes: ['mcp:tools'], accessToken: new Secret(`initial-at-${i}`), tokenType: 'Bearer', expiresAt: h.clock.now() + expiresInMs,
    refreshToken: new Secret(`initial-rt-${i}`), refreshAt: h.clock.now() + refreshInMs,
  });
  return r.resourceKey;
}

const oauthError = (error: string) => new AuthdError('OAUTH_FAILED', `the authorization server answered ${error}`, { data: { error } });
const networkError = () => new AuthdError('HTTP_FAILED', 'connect ECONNREFUSED 127.0.0.1:9');

describe('RefreshScheduler', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(() => {
    h.scheduler.stop();
    h.store.close();
  });

  it('should keep one wake-up armed for the earliest due credential, however many there are', async () => {
    for (let i = 0; i < 500; i++) plant(h, i, 3_600 * SEC, (100 + i) * SEC);
    h.scheduler.start();
    expect(h.clock.pendingWakes).toBe(1);
    expect(h.scheduler.timerCount).toBe(2); // the wake-up and the sweep
    expect(h.scheduler.nextWakeAt).toBe(h.clock.now() + 100 * SEC);
    await h.clock.advance(100 * SEC);
    expect(h.calls.map((c) => c.resource)).toEqual(['https://mcp0.example.com/mcp']);
    expect(h.scheduler.nextWakeAt).toBe(h.clock.now() + SEC);
    expect(h.clock.pendingWakes).toBe(1);
  });

  it('should refresh an 8-second token about every 5 seconds: near 60/5 refreshes in 60 s, each presenting the latest refresh token', async () => {
    plant(h, 0, 8 * SEC, Math.round(8 * SEC * 0.675));
    h.scheduler.start();
    await h.clock.advance(60 * SEC);
    expect(h.calls.length).toBeGreaterThanOrEqual(10);
    expect(h.calls.length).toBeLessThanOrEqual(12);
    // Rotation: every request presents the refresh token the previous one returned.
    expect(h.calls.map((c) => c.refreshToken)).toEqual(['initial-rt-0', ...h.calls.slice(1).map((_, i) => `rt-${i + 1}`)]);
    const gaps = h.calls.slice(1).map((c, i) => c.at - (h.calls[i] as { at: number }).at);
    for (const gap of gaps) expect(gap).toBe(5_400);
  });

  it('should catch a wake-up lost to system sleep with the periodic sweep', async () => {
    h = harness({ lifetimeMs: 3_600 * SEC });
    const start = h.clock.now();
    plant(h, 0, 3_600 * SEC, 10 * SEC);
    h.scheduler.start();
    h.clock.jump(20 * SEC); // the armed wake-up is lost
    expect(h.calls).toHaveLength(0);
    await h.clock.advance(30 * SEC); // the next sweep notices
    expect(h.calls.map((c) => c.at)).toEqual([start + 30 * SEC]);
  });

  it('should refresh past-due credentials at start-up with bounded concurrency', async () => {
    h = harness({ concurrency: 3 });
    for (let i = 0; i < 20; i++) plant(h, i, 60 * SEC, -SEC);
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    h.setGrant(async (input) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => release.push(resolve));
      running -= 1;
      return { accessToken: new Secret(`new-${input.record.resource}`), tokenType: 'Bearer', expiresAt: h.clock.now() + 3_600 * SEC, refreshToken: null, scopes: [] };
    });
    h.scheduler.start();
    while (h.calls.length < 20) {
      await settle();
      expect(running).toBeLessThanOrEqual(3);
      release.splice(0).forEach((r) => r());
    }
    await settle();
    await h.scheduler.whenIdle();
    expect(peak).toBe(3);
    expect(h.store.list().every((r) => r.accessToken.reveal().startsWith('new-') && r.state === 'valid')).toBe(true);
    // No refresh token in the response: the old one is kept (RFC 6749 §6).
    expect(h.store.list().every((r) => r.refreshToken?.reveal().startsWith('initial-rt-'))).toBe(true);
  });

  it('should back off exponentially on network failures, up to the cap, keep the token, and recover by itself', async () => {
    const key = plant(h, 0, 3_600 * SEC, 10 * SEC);
    h.setGrant(async () => {
      throw networkError();
    });
    h.scheduler.start();
    await h.clock.advance(10 * SEC);
    let record = h.store.getByKey(key)!;
    expect(record).toMatchObject({ state: 'error', failureCount: 1 });
    expect(record.lastError).toMatch(/ECONNREFUSED/);
    expect(record.accessToken.reveal()).toBe('initial-at-0');
    expect((record.nextAttemptAt as number) - h.clock.now()).toBe(1_500);

    const attemptsBefore = h.calls.length;
    await h.clock.advance(30 * 60 * SEC);
    record = h.store.getByKey(key)!;
    const gaps = h.calls.slice(attemptsBefore - 1).map((c, i, all) => (i === 0 ? 0 : c.at - (all[i - 1] as { at: number }).at)).slice(1);
    expect(gaps.slice(0, 4)).toEqual([1_500, 3_000, 6_000, 12_000]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(300_000);
    expect(gaps.at(-1)).toBe(225_000); // capped: 75% of 5 min with random 0.5

    h.setGrant(async () => ({ accessToken: new Secret('recovered'), tokenType: 'Bearer', expiresAt: h.clock.now() + 3_600 * SEC, refreshToken: new Secret('rt-new'), scopes: ['mcp:tools'] }));
    await h.clock.advance(300 * SEC);
    record = h.store.getByKey(key)!;
    expect(record).toMatchObject({ state: 'valid', failureCount: 0, lastError: null });
    expect(record.accessToken.reveal()).toBe('recovered');
  });

  it('should turn invalid_grant into needs_login and stop trying', async () => {
    const key = plant(h, 0, 3_600 * SEC, 10 * SEC);
    h.setGrant(async () => {
      throw oauthError('invalid_grant');
    });
    h.scheduler.start();
    await h.clock.advance(10 * SEC);
    expect(h.store.getByKey(key)).toMatchObject({ state: 'needs_login' });
    expect(h.store.getByKey(key)?.lastError).toMatch(/invalid_grant/);
    await h.clock.advance(3_600 * SEC);
    expect(h.calls).toHaveLength(1);
    expect(h.clock.pendingWakes).toBe(0);
  });

  it('should drop the client registration on invalid_client', async () => {
    h.store.saveClientRegistration({ issuer: 'https://as.example.com', clientId: 'c', clientSecret: null, tokenEndpointAuthMethod: 'none', registrationAccessToken: null, registrationClientUri: null, redirectUris: [], kind: 'dynamic' });
    const key = plant(h, 0, 3_600 * SEC, 10 * SEC);
    h.setGrant(async () => {
      throw oauthError('invalid_client');
    });
    h.scheduler.start();
    await h.clock.advance(10 * SEC);
    expect(h.store.getByKey(key)?.state).toBe('needs_login');
    expect(h.store.getClientRegistration('https://as.example.com')).toBeUndefined();
  });

  it('should keep the previous credential when a refresh response fails validation', async () => {
    const key = plant(h, 0, 3_600 * SEC, 10 * SEC);
    h.setGrant(async () => {
      throw new AuthdError('OAUTH_FAILED', 'authorization server ignored the resource indicator: token aud is https://default.invalid/, expected https://mcp0.example.com/mcp', { data: { reason: 'audience_mismatch' } });
    });
    h.scheduler.start();
    await h.clock.advance(10 * SEC);
    const record = h.store.getByKey(key)!;
    expect(record.accessToken.reveal()).toBe('initial-at-0');
    expect(record.refreshToken?.reveal()).toBe('initial-rt-0');
    expect(record.state).toBe('error');
    expect(record.lastError).toMatch(/ignored the resource indicator/);
  });
});

describe('TokenRefresher single flight', () => {
  it('should make 100 concurrent refreshes of one credential into one grant request', async () => {
    const h = harness();
    const key = plant(h, 0, 3_600 * SEC, 3_000 * SEC);
    let release!: () => void;
    h.setGrant(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { accessToken: new Secret('fresh'), tokenType: 'Bearer', expiresAt: h.clock.now() + 3_600 * SEC, refreshToken: new Secret('rt-2'), scopes: ['mcp:tools'] };
    });
    const record = h.store.getByKey(key)!;
    const all = Promise.all(Array.from({ length: 100 }, () => h.refresher.refresh(record, 'min_ttl')));
    await settle();
    release();
    const results = await all;
    expect(h.calls).toHaveLength(1);
    expect(new Set(results.map((r) => r.accessToken.reveal()))).toEqual(new Set(['fresh']));
    h.store.close();
  });
});
