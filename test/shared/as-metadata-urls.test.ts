/**
 * authorizationServerMetadataUrls() (shared/as-metadata-urls.ts): the union of
 * the daemon's and doctor's tests, and doctor probing the daemon's locations.
 */
import { describe, expect, it } from '@jest/globals';
import { probeAuthorizationServer } from '../../client/cli/metadata-probe.js';
import { authorizationServerMetadataUrls } from '../../shared/as-metadata-urls.js';

describe('authorizationServerMetadataUrls()', () => {
  it('D5: path-aware metadata URLs in the MCP order', () => {
    expect(authorizationServerMetadataUrls('https://a.example/tenant1')).toEqual([
      'https://a.example/.well-known/oauth-authorization-server/tenant1',
      'https://a.example/.well-known/openid-configuration/tenant1',
      'https://a.example/tenant1/.well-known/openid-configuration',
    ]);
    expect(authorizationServerMetadataUrls('https://as.example.com/tenant/1')).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server/tenant/1',
      'https://as.example.com/.well-known/openid-configuration/tenant/1',
      'https://as.example.com/tenant/1/.well-known/openid-configuration',
    ]);
    expect(authorizationServerMetadataUrls('https://a.example')).toEqual([
      'https://a.example/.well-known/oauth-authorization-server',
      'https://a.example/.well-known/openid-configuration',
    ]);
    expect(authorizationServerMetadataUrls('https://a.example/')).toHaveLength(2);
  });

  it('D5: refuses an issuer with a query or fragment (RFC 8414 §2)', () => {
    expect(() => authorizationServerMetadataUrls('https://a.example/?x=1')).toThrow(/query or fragment/);
    expect(() => authorizationServerMetadataUrls('https://a.example/t#f')).toThrow(/query or fragment/);
  });

  it('D5: removes one terminating slash, as RFC 8414 §3.1 says, and keeps the rest of the path', () => {
    expect(authorizationServerMetadataUrls('https://a.example/t/')[0]).toBe('https://a.example/.well-known/oauth-authorization-server/t');
    expect(authorizationServerMetadataUrls('https://a.example/t//')[0]).toBe('https://a.example/.well-known/oauth-authorization-server/t/');
  });
});

describe('doctor probes where the daemon looks', () => {
  const probed = async (issuer: string): Promise<string[]> => {
    const urls: string[] = [];
    const notFound = async (url: string | URL | Request): Promise<Response> => {
      urls.push(String(url));
      return new Response(null, { status: 404 });
    };
    await probeAuthorizationServer(issuer, { timeoutMs: 1000, fetchImpl: notFound as typeof fetch });
    return urls;
  };

  // Doctor's copy stripped every trailing slash, the daemon's one.
  it('D5: should ask the same URLs in the same order for any issuer path (doctor stripped every trailing slash)', async () => {
    for (const issuer of ['https://a.example', 'https://a.example/tenant/1', 'https://a.example/t//']) {
      expect([issuer, await probed(issuer)]).toEqual([issuer, authorizationServerMetadataUrls(issuer)]);
    }
  });

  // Doctor's copy probed an issuer the daemon refuses to use.
  it('D5: should refuse an issuer with a query, naming why, without a request (doctor probed it)', async () => {
    expect(await probed('https://a.example/t?x=1')).toEqual([]);
    const result = await probeAuthorizationServer('https://a.example/t?x=1', { timeoutMs: 1000, fetchImpl: (() => Promise.reject(new Error('no request may be made'))) as typeof fetch });
    expect(result).toMatchObject({ ok: false, kind: 'answer' });
    expect(result.ok ? '' : result.reason).toContain('must not have a query or fragment');
  });
});
