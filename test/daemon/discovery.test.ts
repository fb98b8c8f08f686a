import { afterEach, describe, expect, it } from '@jest/globals';
import { canonicalServerUri, discover } from '../../daemon/oauth/discovery.js';
import { chooseAuthorizationServer, discoverProtectedResource, protectedResourceMetadataLocations } from '../../daemon/oauth/protected-resource-metadata.js';
import {
  AS_METADATA_MAX_AGE_MS,
  fetchAuthorizationServerMetadata,
  loadAuthorizationServer,
  validateAuthorizationServerMetadata,
} from '../../daemon/oauth/authorization-server-metadata.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { json, startTinyServer } from './support/tiny-http.js';
import type { TinyServer } from './support/tiny-http.js';
import { failure } from './support/expect-failure.js';

const HTTP = { allowInsecureLoopback: true };


function asMetadata(issuer: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    code_challenge_methods_supported: ['S256'],
    ...extra,
  };
}

const servers: TinyServer[] = [];
async function tiny(): Promise<TinyServer> {
  const server = await startTinyServer();
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

// The WWW-Authenticate parser's own tests: test/shared/www-authenticate.test.ts.

describe('Protected Resource Metadata', () => {
  it('D2: path-specific well-known first, then the root; the query stays', () => {
    expect(protectedResourceMetadataLocations('https://mcp.example/api/mcp')).toEqual([
      { url: 'https://mcp.example/.well-known/oauth-protected-resource/api/mcp', identifier: 'https://mcp.example/api/mcp' },
      { url: 'https://mcp.example/.well-known/oauth-protected-resource', identifier: 'https://mcp.example' },
    ]);
    expect(protectedResourceMetadataLocations('https://mcp.example/')).toEqual([
      { url: 'https://mcp.example/.well-known/oauth-protected-resource', identifier: 'https://mcp.example' },
    ]);
    expect(protectedResourceMetadataLocations('https://mcp.example/mcp?t=1')[0]?.url).toBe('https://mcp.example/.well-known/oauth-protected-resource/mcp?t=1');
  });

  it('D1: fetches PRM from exactly the URL in the challenge', async () => {
    const server = await tiny();
    server.route('/meta/custom', (_req, res) => json(res, 200, { resource: `${server.origin}/mcp`, authorization_servers: ['https://as.example'] }));
    const prm = await discoverProtectedResource(`${server.origin}/mcp`, { resourceMetadata: `${server.origin}/meta/custom` }, HTTP);
    expect(prm?.resource).toBe(`${server.origin}/mcp`);
    expect(server.paths()).toEqual(['/meta/custom']);
  });

  it('D2: without the header parameter tries the path-specific URL, then the root', async () => {
    const server = await tiny();
    server.route('/.well-known/oauth-protected-resource', (_req, res) =>
      json(res, 200, { resource: `${server.origin}/mcp`, authorization_servers: ['https://as.example'], scopes_supported: ['s1'] }),
    );
    const prm = await discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP);
    expect(server.paths()).toEqual(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']);
    expect(prm).toEqual({
      resource: `${server.origin}/mcp`,
      authorizationServers: ['https://as.example'],
      scopesSupported: ['s1'],
      url: `${server.origin}/.well-known/oauth-protected-resource`,
    });
  });

  it('D2: returns undefined when no PRM is published', async () => {
    const server = await tiny();
    expect(await discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP)).toBeUndefined();
  });

  it('D3: refuses PRM whose resource does not match the URL it was built from', async () => {
    const server = await tiny();
    server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) =>
      json(res, 200, { resource: 'https://victim.example/mcp', authorization_servers: ['https://as.example'] }),
    );
    const err = await failure(discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP));
    expect(err.code).toBe('DISCOVERY_FAILED');
    expect(err.data?.['reason']).toBe('resource_mismatch');
    expect(err.message).toContain('https://victim.example/mcp');
  });

  it('D3: refuses PRM named by the challenge whose resource is another server', async () => {
    const server = await tiny();
    server.route('/prm', (_req, res) => json(res, 200, { resource: `${server.origin}/other`, authorization_servers: ['https://as.example'] }));
    const err = await failure(discoverProtectedResource(`${server.origin}/mcp`, { resourceMetadata: `${server.origin}/prm` }, HTTP));
    expect(err.data?.['reason']).toBe('resource_mismatch');
  });

  it('D3: a trailing slash is a different resource', async () => {
    const server = await tiny();
    server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) =>
      json(res, 200, { resource: `${server.origin}/mcp/`, authorization_servers: ['https://as.example'] }),
    );
    expect((await failure(discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP))).data?.['reason']).toBe('resource_mismatch');
  });

  it('D3, R2: matches by the resource key rules but keeps the received string verbatim', async () => {
    const server = await tiny();
    const shouted = server.origin.replace('http://', 'HTTP://');
    server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) =>
      json(res, 200, { resource: `${shouted}/mcp`, authorization_servers: ['https://as.example'] }),
    );
    expect((await discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP))?.resource).toBe(`${shouted}/mcp`);
  });

  it('D3: root PRM may name the origin (what its URL was built from) and is kept without a slash (R2)', async () => {
    const server = await tiny();
    server.route('/.well-known/oauth-protected-resource', (_req, res) =>
      json(res, 200, { resource: server.origin, authorization_servers: ['https://as.example'] }),
    );
    expect((await discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP))?.resource).toBe(server.origin);
  });

  it('D3: refuses PRM without authorization servers or with a malformed scopes_supported', async () => {
    const server = await tiny();
    let body: unknown = { resource: `${server.origin}/mcp` };
    server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) => json(res, 200, body));
    expect((await failure(discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP))).data?.['reason']).toBe('no_authorization_server');
    body = { resource: `${server.origin}/mcp`, authorization_servers: ['https://as.example'], scopes_supported: 'a b' };
    expect((await failure(discoverProtectedResource(`${server.origin}/mcp`, undefined, HTTP))).data?.['reason']).toBe('invalid_metadata');
  });
});

describe('authorization server selection and metadata', () => {
  it('D4: picks the first usable AS, or the one already used when PRM still lists it', () => {
    const servers = ['http://as1.example', 'https://as2.example', 'https://as3.example'];
    expect(chooseAuthorizationServer(servers, false)).toBe('https://as2.example');
    expect(chooseAuthorizationServer(servers, false, 'https://as3.example')).toBe('https://as3.example');
    expect(chooseAuthorizationServer(servers, false, 'https://gone.example')).toBe('https://as2.example');
    expect(() => chooseAuthorizationServer(['http://as1.example'], true)).toThrow(/no usable authorization server/);
  });

  it('D5: tries each location in order until one answers', async () => {
    const server = await tiny();
    const issuer = `${server.origin}/tenant1`;
    server.route('/tenant1/.well-known/openid-configuration', (_req, res) => json(res, 200, asMetadata(issuer)));
    const metadata = await fetchAuthorizationServerMetadata(issuer, HTTP);
    expect(metadata.issuer).toBe(issuer);
    expect(server.paths()).toEqual([
      '/.well-known/oauth-authorization-server/tenant1',
      '/.well-known/openid-configuration/tenant1',
      '/tenant1/.well-known/openid-configuration',
    ]);
  });

  it('D6: refuses metadata whose issuer is not the one the URL was built from', async () => {
    const server = await tiny();
    server.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, asMetadata('https://evil.example')));
    server.route('/.well-known/openid-configuration', (_req, res) => json(res, 200, asMetadata(`${server.origin}/`)));
    const err = await failure(fetchAuthorizationServerMetadata(server.origin, HTTP));
    expect(err.code).toBe('DISCOVERY_FAILED');
    expect(err.data?.['reason']).toBe('issuer_mismatch');
    expect(err.message).toContain('https://evil.example');
  });

  it('A5: refuses metadata with an endpoint over plain http to a non-loopback host', () => {
    const metadata = asMetadata('https://as.example', { token_endpoint: 'http://as.example/token' });
    expect(() => validateAuthorizationServerMetadata(metadata, 'https://as.example', true, 'https://as.example')).toThrow(/plain HTTP/);
    const loopback = asMetadata('http://127.0.0.1:1');
    expect(() => validateAuthorizationServerMetadata(loopback, 'http://127.0.0.1:1', false, 'x')).toThrow(/--insecure-loopback/);
    expect(validateAuthorizationServerMetadata(loopback, 'http://127.0.0.1:1', true, 'x').issuer).toBe('http://127.0.0.1:1');
  });

  it('refuses metadata with mistyped fields mcpauthd relies on', () => {
    const bad = asMetadata('https://as.example', { code_challenge_methods_supported: 'S256' });
    expect(() => validateAuthorizationServerMetadata(bad, 'https://as.example', false, 'x')).toThrow(/not an array of strings/);
    const noToken = { issuer: 'https://as.example', authorization_endpoint: 'https://as.example/a' };
    expect(() => validateAuthorizationServerMetadata(noToken, 'https://as.example', false, 'x')).toThrow(/token_endpoint/);
  });

  it('caches metadata in the store, re-fetches after the max age or when forced, and never stores bad metadata', async () => {
    const server = await tiny();
    let issuer = server.origin;
    server.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, asMetadata(issuer)));
    let clock = 1_000_000;
    const store = TokenStore.open(':memory:', { inMemory: true, now: () => clock });
    const cache = { store, now: () => clock };
    try {
      expect((await loadAuthorizationServer(server.origin, HTTP, cache)).fromCache).toBe(false);
      expect((await loadAuthorizationServer(server.origin, HTTP, cache)).fromCache).toBe(true);
      expect(server.requests).toHaveLength(1);
      clock += AS_METADATA_MAX_AGE_MS;
      expect((await loadAuthorizationServer(server.origin, HTTP, cache)).fromCache).toBe(false);
      expect((await loadAuthorizationServer(server.origin, HTTP, { ...cache, forceRefresh: true })).fromCache).toBe(false);
      expect(server.requests).toHaveLength(3);

      issuer = 'https://evil.example';
      clock += AS_METADATA_MAX_AGE_MS;
      await failure(loadAuthorizationServer(server.origin, HTTP, cache));
      expect(store.getAuthorizationServer(server.origin)?.metadata['issuer']).toBe(server.origin);
      expect(store.getAuthorizationServer('https://evil.example')).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe('discover()', () => {
  it('D1-D6: from a 401 challenge to verified AS metadata', async () => {
    const mcp = await tiny();
    const as = await tiny();
    mcp.route('/mcp', (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${mcp.origin}/prm", scope="mcp:tools"` }).end();
    });
    mcp.route('/prm', (_req, res) => json(res, 200, { resource: `${mcp.origin}/mcp`, authorization_servers: [as.origin] }));
    as.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, asMetadata(as.origin)));
    const result = await discover(`${mcp.origin}/mcp`, { http: HTTP, fallbackResource: 'https://ignored.example' });
    expect(result).toMatchObject({
      resource: `${mcp.origin}/mcp`,
      resourceSource: 'metadata',
      ignoredResource: 'https://ignored.example',
      issuer: as.origin,
      challenge: { scope: ['mcp:tools'] },
      legacy: false,
    });
    expect(mcp.requests[0]?.method).toBe('POST');
  });

  it('D7: a 2025-03-26 server without PRM uses metadata at its origin', async () => {
    const server = await tiny();
    server.route('/mcp', (_req, res) => {
      res.writeHead(401).end();
    });
    server.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, asMetadata(server.origin)));
    const result = await discover(`${server.origin}/mcp`, { http: HTTP });
    expect(result).toMatchObject({ legacy: true, issuer: server.origin, resource: `${server.origin}/mcp`, resourceSource: 'server_url' });
  });

  it('D7: accepts legacy metadata at the origin whose issuer has a path on that same origin', async () => {
    const server = await tiny();
    server.route('/mcp', (_req, res) => {
      res.writeHead(401).end();
    });
    server.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, asMetadata(`${server.origin}/oauth`)));
    const result = await discover(`${server.origin}/mcp`, { http: HTTP });
    expect(result).toMatchObject({ legacy: true, issuer: `${server.origin}/oauth` });
  });

  it('D6 D7: still refuses legacy metadata at the origin naming an issuer on another origin', async () => {
    const server = await tiny();
    server.route('/mcp', (_req, res) => {
      res.writeHead(401).end();
    });
    server.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, asMetadata('https://evil.example/oauth')));
    await expect(discover(`${server.origin}/mcp`, { http: HTTP })).rejects.toMatchObject({ data: { reason: 'issuer_mismatch' } });
  });

  it('D7: without any metadata falls back to /authorize, /token, /register at the origin; --resource is used', async () => {
    const server = await tiny();
    server.route('/mcp', (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"' }).end();
    });
    const result = await discover(`${server.origin}/mcp`, { http: HTTP, fallbackResource: 'https://api.example/mcp' });
    expect(result.authorizationServer).toEqual({
      issuer: server.origin,
      authorization_endpoint: `${server.origin}/authorize`,
      token_endpoint: `${server.origin}/token`,
      registration_endpoint: `${server.origin}/register`,
      code_challenge_methods_supported: ['S256'],
    });
    expect(result).toMatchObject({ resource: 'https://api.example/mcp', resourceSource: 'user', legacy: true });
  });

  it('D7: a server that neither asks for a token nor publishes metadata has nothing to log in to', async () => {
    const server = await tiny();
    server.route('/mcp', (_req, res) => json(res, 200, {}));
    expect((await failure(discover(`${server.origin}/mcp`, { http: HTTP }))).data?.['reason']).toBe('no_metadata');
  });

  it('R2: without PRM the resource is the canonical server URI', () => {
    expect(canonicalServerUri('HTTPS://MCP.Example:443/Mcp#frag')).toBe('https://mcp.example/Mcp');
    expect(canonicalServerUri('https://mcp.example/')).toBe('https://mcp.example');
    expect(canonicalServerUri('https://mcp.example/mcp/')).toBe('https://mcp.example/mcp/');
    expect(canonicalServerUri('http://127.0.0.1:8080/mcp')).toBe('http://127.0.0.1:8080/mcp');
  });
});
