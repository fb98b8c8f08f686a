import { describe, expect, it } from '@jest/globals';
import { parseBearerChallenge } from '../../client/bearer-challenge.js';

describe('parseBearerChallenge', () => {
  it('should read error, scope and resource_metadata from a Bearer challenge', () => {
    expect(
      parseBearerChallenge('Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp"'),
    ).toEqual({ error: 'insufficient_scope', scope: ['mcp:tools', 'mcp:admin'], resourceMetadata: 'https://a.example/.well-known/oauth-protected-resource/mcp' });
  });

  it('should find the Bearer challenge among others, case-insensitively, with token values and odd spacing', () => {
    expect(parseBearerChallenge('DPoP algs="ES256", bearer   realm = "x" ,error=invalid_token,scope="a"')).toEqual({ error: 'invalid_token', scope: ['a'] });
    expect(parseBearerChallenge('Basic realm="x", Bearer scope="s1"')).toEqual({ scope: ['s1'] });
  });

  it('should unescape quoted-pairs and keep commas inside quoted strings', () => {
    expect(parseBearerChallenge('Bearer error_description="a, \\"b\\"", scope="x\\\\y"')).toEqual({ scope: ['x\\y'] });
  });

  it('should keep the first of a repeated parameter', () => {
    expect(parseBearerChallenge('Bearer scope="first", scope="second"')?.scope).toEqual(['first']);
  });

  it('should return undefined without a Bearer challenge, and an empty object for a bare one', () => {
    expect(parseBearerChallenge(null)).toBeUndefined();
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseBearerChallenge('Bearer')).toEqual({});
    expect(parseBearerChallenge('Bearer scope=""')).toEqual({});
  });

  it('should not throw on malformed headers', () => {
    for (const header of ['Bearer scope="unterminated', 'Bearer =x, , ,', '"', 'Bearer @@@ scope="a"', 'Negotiate abc==']) {
      expect(() => parseBearerChallenge(header)).not.toThrow();
    }
    expect(parseBearerChallenge('Bearer @@@ scope="a"')).toEqual({ scope: ['a'] });
  });
});
