import { describe, expect, it } from '@jest/globals';
import { assertSecureUrl, nearbyUrls, resourceKey } from '../../shared/resource-uri.js';

describe('resourceKey', () => {
  it('should fold scheme and host case, default port and fragment only', () => {
    expect(resourceKey('HTTPS://A.Example/mcp')).toBe('https://a.example/mcp');
    expect(resourceKey('https://a.example:443/mcp')).toBe('https://a.example/mcp');
    expect(resourceKey('https://a.example/mcp#frag')).toBe('https://a.example/mcp');
    expect(resourceKey('https://a.example')).toBe(resourceKey('https://a.example/'));
  });

  // Invariant 1: never a prefix match, never "closest", never another server's token.
  const base = 'https://a.example/mcp';
  it.each([
    ['https://a.example/mcp2'],
    ['https://a.example/mcp/x'],
    ['https://a.example/mcp/'],
    ['http://a.example/mcp'],
    ['https://a.example:8443/mcp'],
    ['https://b.a.example/mcp'],
    ['https://a.example/MCP'],
    ['https://a.example/mcp?tenant=1'],
  ])('should keep %s distinct from https://a.example/mcp', (other) => {
    expect(resourceKey(other)).not.toBe(resourceKey(base));
  });

  it('should refuse non-http schemes and user info', () => {
    expect(() => resourceKey('javascript:alert(1)')).toThrow(/https URL/);
    expect(() => resourceKey('https://user:pw@a.example/')).toThrow(/user information/);
    expect(() => resourceKey('not a url')).toThrow(/not an absolute URL/);
  });
});

describe('assertSecureUrl (A5)', () => {
  it('should accept https anywhere', () => {
    expect(assertSecureUrl('https://a.example/x', 'issuer', false).host).toBe('a.example');
  });
  it('A5: should refuse http to a non-loopback host even when opted in', () => {
    expect(() => assertSecureUrl('http://a.example/x', 'issuer', true)).toThrow(/only https/);
  });
  it('A5: should refuse http to loopback unless the user opted in', () => {
    expect(() => assertSecureUrl('http://127.0.0.1:9/x', 'issuer', false)).toThrow(/--insecure-loopback/);
    expect(assertSecureUrl('http://127.0.0.1:9/x', 'issuer', true).port).toBe('9');
  });
});

describe('nearbyUrls (near misses named in not_found, never served)', () => {
  it('should toggle the trailing slash of a non-root path and swap http/https, and nothing else', () => {
    expect(nearbyUrls('https://h.example/mcp/')).toEqual(['https://h.example/mcp', 'http://h.example/mcp/', 'http://h.example/mcp']);
    expect(nearbyUrls('http://h.example:8443/a/b?x=1')).toEqual(['http://h.example:8443/a/b/?x=1', 'https://h.example:8443/a/b?x=1', 'https://h.example:8443/a/b/?x=1']);
    expect(nearbyUrls('https://h.example')).toEqual(['http://h.example/']);
    expect(nearbyUrls('not a url')).toEqual([]);
  });
});
