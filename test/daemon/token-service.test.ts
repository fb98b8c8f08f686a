/**
 * The serving policy of `token.get` (daemon/token-service.ts) against a real
 * store: exact match only, never a prefix or near miss (invariant 1), scopes
 * (checklist S2), min_ttl and expiry, needs_login and the refresh backoff.
 * The refresher is the injected dependency the scheduler supplies; here it
 * records each call and rotates the stored tokens as a refresh would.
 * End to end against oidc-provider: test/refresh-failures.test.ts.
 *
 * And the hot path's answer (daemon/encoded-result.ts): `token.get` is sent as
 * JSON built around each token's once-made JSON form. These tests hold it to
 * what JSON.stringify would have made of the same answer, byte for byte, for
 * tokens that need escaping too, so splicing can never change a token or
 * break a frame.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { EncodedResult } from '../../daemon/server/encoded-result.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenStore, type CredentialRecord, type NewCredential } from '../../daemon/store/token-store.js';
import { encodeTokenResult, getToken, type Refresher } from '../../daemon/serve/token-service.js';
import type { TokenGetParams, TokenGetResult } from '../../shared/protocol/credential-types.js';
import { newCredential } from '../helpers/new-credential.js';

// Every kind of character JSON.stringify treats specially, and a few it doesn't.
const TOKENS = [
  'eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL21jcC5leGFtcGxlLmNvbS9tY3AifQ.c2ln',
  'a"quote',
  'back\\slash',
  'form\ffeed',
  'new\nline\ttab\u0000nul\u001fus',
  'line\u2028para\u2029sep',
  'ünïcødé-токен-令牌-🔑',
  'lone\ud800surrogate',
  'x'.repeat(8000),
];

function record(overrides: Partial<CredentialRecord>): CredentialRecord {
  return {
    resource: 'https://mcp.example.com/mcp',
    resourceKey: 'https://mcp.example.com/mcp',
    serverUrls: ['https://mcp.example.com/mcp'],
    issuer: 'https://as.example.com',
    clientId: 'client-1',
    scopes: ['mcp:tools'],
    accessToken: new Secret('at'),
    tokenType: 'Bearer',
    expiresAt: 1_800_000_123_456,
    refreshToken: null,
    refreshAt: null,
    state: 'valid',
    lastRefreshAt: null,
    lastError: null,
    nextAttemptAt: null,
    failureCount: 0,
    createdAt: 0,
    updatedAt: 0,
    grantKind: 'authorization_code',
    loginOptions: null,
    dpopKey: null,
    ...overrides,
  };
}

/** What token.get answers for a record, as docs/protocol.md defines it: the oracle for the encoded form. */
function tokenResult(r: CredentialRecord): TokenGetResult {
  return {
    access_token: r.accessToken.reveal(),
    token_type: 'Bearer',
    expires_at: r.expiresAt === null ? null : Math.floor(r.expiresAt / 1000),
    resource: r.resource,
    scopes: r.scopes,
  };
}

describe('Secret keeps its JSON form', () => {
  it.each(TOKENS)('should reveal exactly the value and its JSON literal (%#)', (value) => {
    const secret = new Secret(value);
    expect(secret.reveal()).toBe(value);
    expect(secret.revealJson()).toBe(JSON.stringify(value));
    expect(JSON.parse(secret.revealJson())).toBe(value);
  });

  it('should still compare by value and never print it', () => {
    for (const value of TOKENS) {
      const secret = new Secret(value);
      expect(secret.equals(new Secret(value))).toBe(true);
      expect(secret.equals(new Secret(`${value}x`))).toBe(false);
      expect(String(secret)).toBe('[redacted]');
      expect(JSON.stringify({ secret })).toBe('{"secret":"[redacted]"}');
      expect(inspect(secret)).toBe('[redacted]');
    }
  });
});

describe('encodeTokenResult', () => {
  it.each(TOKENS)('should be JSON.stringify of the token.get answer, byte for byte (%#)', (token) => {
    const r = record({ accessToken: new Secret(token) });
    const encoded = encodeTokenResult(r);
    expect(encoded).toBeInstanceOf(EncodedResult);
    expect(encoded.json).toBe(JSON.stringify(tokenResult(r)));
    expect((JSON.parse(encoded.json) as TokenGetResult).access_token).toBe(token);
  });

  it('should never print the token it holds, as a Secret never does', () => {
    const encoded = encodeTokenResult(record({ accessToken: new Secret('at-never-printed') }));
    expect(encoded.json).toContain('at-never-printed');
    for (const printed of [String(encoded), JSON.stringify({ result: encoded }), inspect(encoded), inspect({ result: encoded })]) {
      expect(printed).not.toContain('at-never-printed');
      expect(printed).toContain('[redacted]');
    }
  });

  it('should encode every shape of the rest of the answer the same way', () => {
    const shapes: Partial<CredentialRecord>[] = [
      { expiresAt: null },
      { expiresAt: 999 },
      { scopes: [] },
      { scopes: ['mcp:tools', 'mcp:"quoted"', 'ünï'] },
      { resource: 'https://mcp.example.com/ünï/"q"?a=b&c=\u2028' },
    ];
    for (const shape of shapes) {
      const r = record(shape);
      expect(encodeTokenResult(r).json).toBe(JSON.stringify(tokenResult(r)));
    }
  });
});

describe('token.get serving policy', () => {
  const NOW = 1_000_000;
  const HOUR = 3_600_000;
  const A = 'https://mcp.example.com/mcp';
  let store: TokenStore;
  let refreshes: { resource: string; reason: string }[];
  let nextLifetimeMs: number;
  let nextScopes: string[] | undefined;

  const refresh: Refresher = async (record, reason) => {
    refreshes.push({ resource: record.resource, reason });
    const rotated = store.rotateTokens(record.resourceKey, record.refreshToken, {
      accessToken: new Secret(`at-refreshed-${refreshes.length}`),
      tokenType: 'Bearer',
      expiresAt: NOW + nextLifetimeMs,
      refreshToken: new Secret(`rt-refreshed-${refreshes.length}`),
      refreshAt: NOW + nextLifetimeMs / 2,
      ...(nextScopes === undefined ? {} : { scopes: nextScopes }),
    });
    if (rotated === undefined) throw new Error('the test refresher could not rotate');
    return rotated;
  };
  const plant = (overrides: Partial<NewCredential> = {}) => store.saveCredential(newCredential({ resource: A, serverUrl: A, expiresAt: NOW + HOUR, ...overrides }));
  const serve = async (params: TokenGetParams, withRefresh = true) =>
    JSON.parse((await getToken(params, { store, now: () => NOW, refresh: withRefresh ? refresh : undefined })).json) as TokenGetResult;
  const refusal = (params: TokenGetParams, withRefresh = true) => serve(params, withRefresh).then(() => undefined, (err: unknown) => err);

  beforeEach(() => {
    store = TokenStore.open(':memory:', { inMemory: true, now: () => NOW });
    refreshes = [];
    nextLifetimeMs = HOUR;
    nextScopes = undefined;
  });
  afterEach(() => store.close());

  it('should serve the exact resource or server URL, and never a prefix, an extension or a near miss (invariant 1)', async () => {
    plant({ accessToken: new Secret('at-a') });
    expect(await serve({ resource: A })).toMatchObject({ access_token: 'at-a', resource: A });
    expect(await serve({ server_url: A })).toMatchObject({ access_token: 'at-a', resource: A });
    for (const other of ['https://mcp.example.com/', 'https://mcp.example.com/mcp/', 'https://mcp.example.com/mcp/sub', 'https://mcp.example.com/mc', 'http://mcp.example.com/mcp', 'https://mcp.example.com:8443/mcp', 'https://evil.example.com/mcp']) {
      for (const ref of [{ resource: other }, { server_url: other }]) {
        const err = await refusal(ref);
        expect(err).toMatchObject({ code: 'not_found' });
        expect(JSON.stringify(err)).not.toContain('at-a');
      }
    }
    expect(refreshes).toEqual([]);
  });

  it('should serve when every requested scope was granted, and otherwise name what is missing (S2)', async () => {
    plant({ scopes: ['mcp:tools', 'mcp:read'] });
    expect(await serve({ resource: A, scopes: ['mcp:read'] })).toMatchObject({ scopes: ['mcp:tools', 'mcp:read'] });
    expect(await refusal({ resource: A, scopes: ['mcp:read', 'mcp:admin'] })).toMatchObject({
      code: 'insufficient_scope',
      data: { resource: A, granted: ['mcp:tools', 'mcp:read'], missing: ['mcp:admin'], scope: 'mcp:tools mcp:read mcp:admin' },
    });
    expect(refreshes).toEqual([]);
  });

  it('should serve a token that lives at least min_ttl as it is, and refresh first one that does not', async () => {
    plant({ accessToken: new Secret('at-old'), expiresAt: NOW + 60_000 });
    expect(await serve({ resource: A, min_ttl: 60 })).toMatchObject({ access_token: 'at-old', expires_at: Math.floor((NOW + 60_000) / 1000) });
    expect(refreshes).toEqual([]);
    expect(await serve({ resource: A, min_ttl: 61 })).toMatchObject({ access_token: 'at-refreshed-1' });
    expect(refreshes).toEqual([{ resource: A, reason: 'min_ttl' }]);
  });

  it('should refresh an expired token before serving it, and refuse one it cannot refresh', async () => {
    plant({ expiresAt: NOW });
    expect(await serve({ resource: A })).toMatchObject({ access_token: 'at-refreshed-1' });
    expect(refreshes).toEqual([{ resource: A, reason: 'expired' }]);

    store.deleteCredential(store.findByResource(A)!.resourceKey);
    plant({ expiresAt: NOW - 1, refreshToken: null });
    expect(await refusal({ resource: A })).toMatchObject({ code: 'expired', data: { resource: A } });
    expect(refreshes).toHaveLength(1);
  });

  it('should refuse with needs_login, naming the login, once the grant is gone, but serve its still-live token', async () => {
    const record = plant({ accessToken: new Secret('at-live'), expiresAt: NOW + 30_000 });
    store.setState(record.resourceKey, 'needs_login', { lastError: 'invalid_grant: grant request is invalid' });
    expect(await serve({ resource: A })).toMatchObject({ access_token: 'at-live' });
    const err = await refusal({ resource: A, min_ttl: 60 });
    expect(err).toMatchObject({ code: 'needs_login', data: { resource: A } });
    expect((err as Error).message).toContain(`run: mcpauthd login ${A}`);
    expect(refreshes).toEqual([]);
  });

  it('should honour the backoff after a failed refresh: answer from the failure without refreshing, until the next attempt is due', async () => {
    const record = plant({ expiresAt: NOW - 1 });
    store.setState(record.resourceKey, 'error', { lastError: 'the token endpoint answered 503', nextAttemptAt: NOW + 30_000, failureCount: 1 });
    for (let i = 0; i < 5; i++) {
      expect(await refusal({ resource: A })).toMatchObject({ code: 'refresh_failed', data: { resource: A, next_attempt_at: Math.floor((NOW + 30_000) / 1000) } });
    }
    expect(refreshes).toEqual([]);
    store.setState(record.resourceKey, 'error', { lastError: 'the token endpoint answered 503', nextAttemptAt: NOW, failureCount: 1 });
    expect(await serve({ resource: A })).toMatchObject({ access_token: 'at-refreshed-1' });
    expect(refreshes).toEqual([{ resource: A, reason: 'expired' }]);
  });

  it('should check the scopes again after a refresh that narrowed them, and refuse a min_ttl the refreshed token still misses', async () => {
    plant({ scopes: ['mcp:tools', 'mcp:read'], expiresAt: NOW });
    nextScopes = ['mcp:tools'];
    expect(await refusal({ resource: A, scopes: ['mcp:read'] })).toMatchObject({ code: 'insufficient_scope', data: { missing: ['mcp:read'] } });
    expect(refreshes).toHaveLength(1);

    store.deleteCredential(store.findByResource(A)!.resourceKey);
    plant({ expiresAt: NOW + 10_000 });
    nextLifetimeMs = 30_000;
    expect(await refusal({ resource: A, min_ttl: 60 })).toMatchObject({ code: 'expired', data: { resource: A, token_lifetime: 30 } });
    expect(refreshes).toHaveLength(2);
    // The server showed it issues 30 s tokens: asking again costs no further refresh.
    expect(await refusal({ resource: A, min_ttl: 60 })).toMatchObject({ code: 'expired', data: { token_lifetime: 30 } });
    expect(refreshes).toHaveLength(2);
  });
});
