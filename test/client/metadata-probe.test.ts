/**
 * probeAuthorizationServer(): the locations and order the daemon's discovery
 * uses, https only except loopback, bounded, and a reason in words. A real
 * HTTP server on 127.0.0.1 plays the authorization server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_METADATA_BYTES, probeAuthorizationServer } from '../../client/cli/metadata-probe.js';

describe('probeAuthorizationServer()', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const url = req.url ?? '';
      if (url === '/.well-known/openid-configuration/oidc') return void res.end(JSON.stringify({ issuer: `${base}/oidc` }));
      if (url === '/.well-known/oauth-authorization-server/liar') return void res.end(JSON.stringify({ issuer: 'https://evil.example.com' }));
      if (url === '/.well-known/oauth-authorization-server/huge') return void res.end('x'.repeat(MAX_METADATA_BYTES + 10));
      if (url === '/.well-known/oauth-authorization-server/redirect') {
        res.writeHead(302, { location: 'https://elsewhere.example.com/' });
        return void res.end();
      }
      if (url === '/.well-known/oauth-authorization-server/slow') return; // never answers
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('should find OpenID Connect metadata after a 404 and keep the server date', async () => {
    const result = await probeAuthorizationServer(`${base}/oidc`, { timeoutMs: 2000 });
    expect(result).toMatchObject({ ok: true, url: `${base}/.well-known/openid-configuration/oidc` });
    expect(Math.abs((result.serverDateMs as number) - Date.now())).toBeLessThan(5000);
  });

  it('should fail, with every answer in words, when no location has metadata for this issuer', async () => {
    const liar = await probeAuthorizationServer(`${base}/liar`, { timeoutMs: 2000 });
    expect(liar).toMatchObject({ ok: false, kind: 'answer' });
    expect(liar.ok ? '' : liar.reason).toContain('names issuer "https://evil.example.com"');
    expect(liar.ok ? '' : liar.reason).toContain(`${base}/liar/.well-known/openid-configuration: HTTP 404`);
  });

  it('should not follow redirects, and refuse a body beyond the cap', async () => {
    const redirect = await probeAuthorizationServer(`${base}/redirect`, { timeoutMs: 2000 });
    expect(redirect.ok ? '' : redirect.reason).toContain('/.well-known/oauth-authorization-server/redirect: HTTP 302');
    const huge = await probeAuthorizationServer(`${base}/huge`, { timeoutMs: 2000 });
    expect(huge.ok ? '' : huge.reason).toContain(`larger than ${MAX_METADATA_BYTES} bytes`);
  });

  it('should give up after the timeout', async () => {
    const started = Date.now();
    const slow = await probeAuthorizationServer(`${base}/slow`, { timeoutMs: 300 });
    expect(slow).toMatchObject({ ok: false, kind: 'network', reason: `${base}/.well-known/oauth-authorization-server/slow: no answer within 300 ms` });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('should refuse plain http to anything but loopback without sending a request', async () => {
    const before = requests.length;
    const fetchImpl = (() => Promise.reject(new Error('must not be called'))) as typeof fetch;
    expect(await probeAuthorizationServer('http://as.example.com', { timeoutMs: 100, fetchImpl })).toMatchObject({ ok: false, kind: 'insecure' });
    expect(requests.length).toBe(before);
  });
});
