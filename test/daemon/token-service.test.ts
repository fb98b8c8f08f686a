/**
 * The hot path's answer (daemon/encoded-result.ts): `token.get` is sent as
 * JSON built around each token's once-made JSON form. These tests hold it to
 * what JSON.stringify would have made of the same answer, byte for byte, for
 * tokens that need escaping too, so splicing can never change a token or
 * break a frame.
 */
import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { EncodedResult } from '../../daemon/server/encoded-result.js';
import { Secret } from '../../daemon/store/secret.js';
import type { CredentialRecord } from '../../daemon/store/token-store.js';
import { encodeTokenResult } from '../../daemon/serve/token-service.js';
import type { TokenGetResult } from '../../shared/protocol/types.js';

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
