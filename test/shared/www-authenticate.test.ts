/**
 * The one WWW-Authenticate reader (shared/www-authenticate.ts): the union of
 * the tests the daemon's discovery parser and the client's challenge parser
 * had, and the cases where the two disagreed.
 */
import { describe, expect, it } from '@jest/globals';
import { MAX_CHALLENGE_HEADER_LENGTH, parseBearerChallenge, parseWwwAuthenticate } from '../../shared/www-authenticate.js';

describe('parseBearerChallenge()', () => {
  it('D1: reads resource_metadata and scope from a Bearer challenge', () => {
    expect(parseBearerChallenge('Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", scope="a b"')).toEqual({
      resourceMetadata: 'https://mcp.example/.well-known/oauth-protected-resource/mcp',
      scope: ['a', 'b'],
    });
  });

  it('S1: reads error, scope and resource_metadata of a step-up challenge', () => {
    expect(
      parseBearerChallenge('Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp"'),
    ).toEqual({ error: 'insufficient_scope', scope: ['mcp:tools', 'mcp:admin'], resourceMetadata: 'https://a.example/.well-known/oauth-protected-resource/mcp' });
  });

  it('should find the Bearer challenge among others, case-insensitively, with token values and odd spacing', () => {
    expect(parseBearerChallenge('DPoP algs="ES256", bearer   realm = "x" ,error=invalid_token,scope="a"')).toEqual({ error: 'invalid_token', scope: ['a'] });
    expect(parseBearerChallenge('Basic realm="x", Bearer scope="s1"')).toEqual({ scope: ['s1'] });
    const header = 'Negotiate abc123==, Basic realm="basic", BEARER error="insufficient_scope", Scope="mcp:admin", resource_metadata="https://r/"';
    expect(parseBearerChallenge(header)).toEqual({ error: 'insufficient_scope', scope: ['mcp:admin'], resourceMetadata: 'https://r/' });
  });

  it('should unescape quoted-pairs and keep commas inside quoted strings', () => {
    expect(parseBearerChallenge('Bearer error_description="a, \\"b\\"", scope="x\\\\y"')).toEqual({ errorDescription: 'a, "b"', scope: ['x\\y'] });
  });

  it('should keep the first of a repeated parameter', () => {
    expect(parseBearerChallenge('Bearer scope="first", scope="second"')?.scope).toEqual(['first']);
  });

  it('should return undefined without a Bearer challenge, and an empty object for a bare one', () => {
    expect(parseBearerChallenge(null)).toBeUndefined();
    expect(parseBearerChallenge(undefined)).toBeUndefined();
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseBearerChallenge('Bearer')).toEqual({});
    expect(parseBearerChallenge('Bearer scope=""')).toEqual({});
  });

  // The daemon used to drop everything after a parameter not followed by a comma.
  it('D1: keeps scope and resource_metadata when a server leaves out the comma before them (the daemon lost them)', () => {
    expect(parseBearerChallenge('Bearer realm="x" scope="a b"')).toEqual({ scope: ['a', 'b'] });
    expect(parseBearerChallenge('Bearer error="invalid_token" resource_metadata="https://r.example/prm"')).toEqual({
      error: 'invalid_token',
      resourceMetadata: 'https://r.example/prm',
    });
  });

  // The daemon kept an empty error, the client dropped it: an empty error names no error.
  it('should not report an empty error (the daemon reported error "")', () => {
    expect(parseBearerChallenge('Bearer error="", scope="a"')).toEqual({ scope: ['a'] });
  });

  // The client kept the part of a quoted string that the end of the header cut off.
  it('D1: drops a quoted value the header ends inside of, never keeps half a URL (the client kept it)', () => {
    expect(parseBearerChallenge('Bearer scope="a", resource_metadata="https://r.example/pr')).toEqual({ scope: ['a'] });
    expect(parseBearerChallenge('Bearer resource_metadata="https://r.example/prm\\')).toEqual({});
  });

  // Only the daemon had a length cap.
  it(`should read no more than ${MAX_CHALLENGE_HEADER_LENGTH} characters (the client read any length)`, () => {
    const padding = `x="${'p'.repeat(MAX_CHALLENGE_HEADER_LENGTH)}"`;
    expect(parseBearerChallenge(`Bearer ${padding}, scope="late"`)).toEqual({});
    expect(parseBearerChallenge(`Bearer scope="early", ${padding}`)).toEqual({ scope: ['early'] });
  });

  it('should not throw on malformed or hostile headers, and keep reading past stray characters', () => {
    const hostile = [
      'Bearer scope="unterminated',
      'Bearer =x, , ,',
      '"',
      '\\',
      'Bearer @@@ scope="a"',
      'Negotiate abc==',
      '=====',
      ',,,,',
      'Bearer "a" "b" =',
      'Bearer \u0000\uffff scope=\u00e9',
      'Bearer a=b=c=d',
      `Bearer ${'"'.repeat(10_000)}`,
      `Bearer ${'a='.repeat(10_000)}`,
      `${'Bearer '.repeat(5_000)}`,
    ];
    for (const header of hostile) expect(() => parseBearerChallenge(header)).not.toThrow();
    expect(parseBearerChallenge('Bearer @@@ scope="a"')).toEqual({ scope: ['a'] });
  });
});

describe('parseWwwAuthenticate()', () => {
  it('D1: handles quoted commas, escapes, unquoted tokens and odd spacing', () => {
    const [challenge] = parseWwwAuthenticate('Bearer realm="a, \\"b\\"" ,error=invalid_token,  scope = "x"');
    expect(challenge?.scheme).toBe('bearer');
    expect({ ...challenge?.params }).toEqual({ realm: 'a, "b"', error: 'invalid_token', scope: 'x' });
  });

  it('D1: separates several challenges, including token68 ones', () => {
    const challenges = parseWwwAuthenticate('Negotiate abc123==, Basic realm="basic", BEARER error="insufficient_scope", Scope="mcp:admin"');
    expect(challenges.map((c) => c.scheme)).toEqual(['negotiate', 'basic', 'bearer']);
    expect(challenges[0]?.token68).toBe('abc123==');
    expect(challenges[1]?.token68).toBeUndefined();
    expect({ ...challenges[2]?.params }).toEqual({ error: 'insufficient_scope', scope: 'mcp:admin' });
  });

  it('should read a token68 at the end of the header and a parameter-less scheme between others', () => {
    expect(parseWwwAuthenticate('Basic, Negotiate YII+/==').map((c) => [c.scheme, c.token68])).toEqual([
      ['basic', undefined],
      ['negotiate', 'YII+/=='],
    ]);
  });

  it('D1: keeps the first of repeated parameters and drops an unterminated one', () => {
    expect({ ...parseWwwAuthenticate('Bearer scope="a", scope="b"')[0]?.params }).toEqual({ scope: 'a' });
    expect({ ...parseWwwAuthenticate('Bearer scope="unterminated')[0]?.params }).toEqual({});
  });

  it('should ignore parameters that come before any scheme', () => {
    const challenges = parseWwwAuthenticate('scope="a", Bearer error="x"');
    expect(challenges.map((c) => c.scheme)).toEqual(['bearer']);
    expect({ ...challenges[0]?.params }).toEqual({ error: 'x' });
  });

  it('D1: cannot be fooled into prototype keys', () => {
    const [challenge] = parseWwwAuthenticate('Bearer __proto__="x", constructor="y"');
    expect(Object.getPrototypeOf(challenge?.params)).toBeNull();
    expect(challenge?.params['constructor']).toBe('y');
    expect(challenge?.params['__proto__']).toBe('x');
  });
});
