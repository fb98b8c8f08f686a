/**
 * Issue 14.3: what a proxy or fetch wrapper may serve while the daemon is
 * unreachable. A manual clock decides; no daemon runs (the follower finds
 * nothing to follow, which must not matter).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { EXPIRY_MARGIN_MS, HeldToken, RECONNECT_INITIAL_MS, RECONNECT_MAX_MS } from '../../client/held-token.js';
import type { TokenGetResult } from '../../shared/protocol/credential-types.js';

const NOW = 1_800_000_000_000;
const token = (overrides: Partial<TokenGetResult> = {}): TokenGetResult => ({
  access_token: 'held-token-value',
  token_type: 'Bearer',
  expires_at: NOW / 1000 + 3600,
  resource: 'https://mcp.example.com/mcp',
  scopes: ['mcp:tools'],
  ...overrides,
});

describe('HeldToken', () => {
  let now = NOW;
  const holders: HeldToken[] = [];
  const holder = () => {
    const h = new HeldToken({ socketPath: () => '/nonexistent/mcpauthd-test/d.sock', refetch: () => Promise.reject(new Error('no daemon')), now: () => now });
    holders.push(h);
    return h;
  };
  afterEach(() => {
    for (const h of holders.splice(0)) h.close();
    now = NOW;
  });

  it('T3: should serve the held token until its expiry less the margin and the min TTL, never after', () => {
    const h = holder();
    expect(h.usable(0)).toBeUndefined();
    h.remember(token());
    expect(h.usable(0)?.access_token).toBe('held-token-value');
    now = NOW + 3600_000 - EXPIRY_MARGIN_MS - 1;
    expect(h.usable(0)).toBeDefined();
    now = NOW + 3600_000 - EXPIRY_MARGIN_MS;
    expect(h.usable(0)).toBeUndefined();
    now = NOW + 3600_000 + 1;
    expect(h.usable(0)).toBeUndefined();
    now = NOW + 3000_000;
    // 600 s left: a min TTL of 599 s leaves less than the margin.
    expect(h.usable(599)).toBeUndefined();
    expect(h.usable(598)).toBeDefined();
  });

  it('T3: should never serve a token whose expiry is unknown, nor one it was told to forget', () => {
    const h = holder();
    h.remember(token({ expires_at: null }));
    expect(h.usable(0)).toBeUndefined();
    h.remember(token());
    h.forget();
    expect(h.usable(0)).toBeUndefined();
  });

  it('should hold back from asking the daemon after a failure, doubling the wait up to the cap, and ask at once after an answer', () => {
    const h = holder();
    h.remember(token());
    expect(h.shouldAskDaemon()).toBe(true);
    let expected = RECONNECT_INITIAL_MS;
    for (let i = 0; i < 10; i++) {
      h.daemonDown();
      now += expected - 1;
      expect(h.shouldAskDaemon()).toBe(false);
      now += 1;
      expect(h.shouldAskDaemon()).toBe(true);
      expected = Math.min(expected * 2, RECONNECT_MAX_MS);
    }
    expect(expected).toBe(RECONNECT_MAX_MS);
    h.daemonDown();
    h.remember(token());
    expect(h.shouldAskDaemon()).toBe(true);
  });
});
