/**
 * daemon/oauth/dpop.ts: the algorithm a credential is bound with, the stored
 * key, and resource proofs (RFC 9449 §4.2), checked by jose as a resource
 * server would; and the dpop.proof request checks (shared/protocol/validate.ts).
 */
import { describe, expect, it } from '@jest/globals';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { createHash } from 'node:crypto';
import { chooseDpopAlgorithm, DPOP_ALGORITHMS, generateDpopKey, jwkThumbprint, parseDpopKey, signResourceProof } from '../../daemon/oauth/dpop.js';
import { Secret } from '../../daemon/store/secret.js';
import { parseRequest } from '../../shared/protocol/validate.js';

describe('chooseDpopAlgorithm', () => {
  it.each([
    [['RS256', 'ES256'], 'ES256'],
    [['ES384', 'RS256'], 'ES384'],
    [['RS256'], 'RS256'],
    [['EdDSA', 'PS256'], 'EdDSA'],
    [['none', 'HS256'], undefined],
    [[], undefined],
    ['ES256', undefined],
  ])('should pick from %j: %s', (advertised, expected) => {
    expect(chooseDpopAlgorithm(advertised)).toBe(expected);
  });
});

describe('resource proofs', () => {
  it.each(DPOP_ALGORITHMS.map((alg) => [alg]))('%s: should sign a proof a resource server accepts', async (alg) => {
    const key = parseDpopKey(generateDpopKey(alg));
    const proof = signResourceProof(key, {
      htm: 'POST',
      htu: 'https://mcp.example.com/mcp?session=1#x',
      accessToken: new Secret('the-access-token'),
      nonce: 'n-1',
      now: Math.floor(Date.now() / 1000),
    }).reveal();
    const header = decodeProtectedHeader(proof);
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg });
    const jwk = header.jwk as JWK;
    expect(jwk.d).toBeUndefined(); // never the private half
    const { payload } = await jwtVerify(proof, await importJWK(jwk, alg), { typ: 'dpop+jwt' });
    expect(payload).toMatchObject({
      htm: 'POST',
      htu: 'https://mcp.example.com/mcp', // no query, no fragment
      nonce: 'n-1',
      ath: createHash('sha256').update('the-access-token').digest('base64url'),
    });
    expect(typeof payload.jti).toBe('string');
    expect(jwkThumbprint(key.publicJwk)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
  });

  it('should give every proof a new jti', () => {
    const key = parseDpopKey(generateDpopKey('ES256'));
    const jti = () =>
      JSON.parse(Buffer.from(signResourceProof(key, { htm: 'GET', htu: 'https://a.example/mcp', accessToken: new Secret('t'), now: 1 }).reveal().split('.')[1] ?? '', 'base64url').toString()).jti;
    expect(jti()).not.toBe(jti());
  });

  it('should refuse a broken stored key without showing it', () => {
    for (const stored of ['not json', '{"kty":"EC","alg":"HS256"}', '{"kty":"EC","alg":"ES256","d":"c2VjcmV0"}']) {
      expect(() => parseDpopKey(new Secret(stored))).toThrow(/log in again/);
      try {
        parseDpopKey(new Secret(stored));
      } catch (err) {
        expect(String((err as Error).message)).not.toContain('c2VjcmV0');
      }
    }
  });
});

describe('dpop.proof request checks', () => {
  const request = (params: Record<string, unknown>) => parseRequest({ v: 1, id: 1, method: 'dpop.proof', params });
  const base = { server_url: 'https://mcp.example.com/mcp', htm: 'POST', htu: 'https://mcp.example.com/mcp' };
  it('should accept a method, a URL and a nonce', () => {
    expect(request({ ...base, nonce: 'abc-123_~' }).ok).toBe(true);
  });
  it.each([
    [{ ...base, htm: 'post' }, /htm/],
    [{ ...base, htu: undefined }, /htu/],
    [{ ...base, nonce: 'has "quotes"' }, /nonce/],
    [{ ...base, nonce: 'x'.repeat(1025) }, /nonce/],
    [{ ...base, extra: 1 }, /unknown parameter/],
    [{ htm: 'POST', htu: base.htu }, /resource/],
  ])('should refuse %j', (params, message) => {
    const parsed = request(params);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(message);
  });
});
