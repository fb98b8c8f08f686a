// Smoke test of the test fixtures: a real authorization server (oidc-provider), a real MCP
// server (the SDK) and the scripted browser, driven by hand with openid-client: DCR,
// authorization code + PKCE with a resource indicator, the audience binding, refresh-token
// rotation and replay detection.
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { paramValues, secretFingerprint, startAuthServer } from './fixtures/auth-server.js';
import type { AuthServer } from './fixtures/auth-server.js';
import { completeLogin, scriptedBrowserPath } from './fixtures/browser.js';
import { startMcpServer } from './fixtures/mcp-server.js';
import type { McpTestServer } from './fixtures/mcp-server.js';

const execFileAsync = promisify(execFile);

// Nothing listens here: completeLogin stops at the redirect without requesting it.
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

async function register(as: AuthServer): Promise<oidc.Configuration> {
  return oidc.dynamicClientRegistration(
    new URL(as.issuer),
    {
      redirect_uris: [REDIRECT_URI],
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
}

/** Authorize (optionally with `resource`) and exchange the code (optionally with `resource`). */
async function login(
  config: oidc.Configuration,
  resource: { authorize?: string; token?: string },
  scope = 'mcp:tools',
): Promise<{ accessToken: string; refreshToken: string | undefined }> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const params: Record<string, string> = {
    redirect_uri: REDIRECT_URI,
    scope,
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  if (resource.authorize !== undefined) params.resource = resource.authorize;
  const { callbackUrl } = await completeLogin(oidc.buildAuthorizationUrl(config, params).href, { deliverCallback: false });
  const tokens = await oidc.authorizationCodeGrant(
    config,
    new URL(callbackUrl),
    { pkceCodeVerifier: verifier, expectedState: state },
    resource.token === undefined ? undefined : { resource: resource.token },
  );
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}

function audienceOf(accessToken: string): string[] {
  const { aud } = decodeJwt(accessToken);
  return Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
}

async function postInitialize(mcp: McpTestServer, accessToken?: string): Promise<Response> {
  return fetch(mcp.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    }),
  });
}

describe('test fixtures', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let config: oidc.Configuration;

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    config = await register(as);
  });

  afterAll(async () => {
    await mcp?.stop();
    await as?.stop();
  });

  it('publishes AS metadata at both well-known paths, PRM, and a Bearer challenge', async () => {
    const rfc8414 = (await (await fetch(`${as.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(rfc8414.issuer).toBe(as.issuer);
    expect(rfc8414.code_challenge_methods_supported).toEqual(['S256']);
    expect(rfc8414.authorization_response_iss_parameter_supported).toBe(true);
    expect(rfc8414.revocation_endpoint).toBe(as.revocationEndpoint);
    expect(rfc8414.registration_endpoint).toBe(as.registrationEndpoint);
    expect(rfc8414.scopes_supported).toEqual(['openid', 'offline_access']);

    const challenge = await postInitialize(mcp);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toBe(`Bearer scope="mcp:tools", resource_metadata="${mcp.resourceMetadataUrl}"`);
    expect(mcp.resourceMetadataUrl).toBe(`${mcp.origin}/.well-known/oauth-protected-resource/mcp`);

    const prm = (await (await fetch(mcp.resourceMetadataUrl ?? '')).json()) as Record<string, unknown>;
    expect(prm).toMatchObject({ resource: mcp.url, authorization_servers: [as.issuer], scopes_supported: ['mcp:tools', 'mcp:admin'] });
  });

  it('issues a JWT for the MCP resource that the MCP server accepts', async () => {
    as.clearRequests();
    const { accessToken, refreshToken } = await login(config, { authorize: mcp.resource, token: mcp.resource });
    expect(audienceOf(accessToken)).toEqual([mcp.resource]);
    expect(decodeJwt(accessToken).scope).toBe('mcp:tools');
    expect(refreshToken).toBeDefined();

    // The recorder saw `resource` exactly once per request, as the client sent it, and keeps
    // fingerprints instead of the secret values.
    const [authorize] = as.requests('authorize');
    const [exchange] = as.requests('token');
    expect(authorize && paramValues(authorize, 'resource')).toEqual([mcp.resource]);
    expect(exchange && paramValues(exchange, 'resource')).toEqual([mcp.resource]);
    expect(exchange).toMatchObject({ grantType: 'authorization_code', clientAuth: 'none', status: 200 });
    expect(exchange && paramValues(exchange, 'code')[0]).toMatch(/^fp:/);
    expect(as.issuedSecrets()).toEqual(expect.arrayContaining([accessToken, refreshToken]));
    expect(JSON.stringify(as.requests())).not.toContain(accessToken);

    const client = new Client({ name: 'fixture-smoke', version: '0.0.0' });
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      logs.push(notification.params.data);
    });
    const transport = new StreamableHTTPClientTransport(new URL(mcp.url), {
      requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
    });
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['admin-tool', 'echo', 'test-tool']);
    const result = await client.callTool({ name: 'test-tool', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'test-tool ok (sub=test-user)' }]);
    expect(logs).toEqual(['test-tool called']);
    await client.close();
    expect(mcp.authorizationHeadersSeen()).toBeGreaterThanOrEqual(3);

    // Step-up: admin-tool needs mcp:admin, which this token lacks.
    const stepUp = await fetch(mcp.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin-tool', arguments: {} } }),
    });
    expect(stepUp.status).toBe(403);
    expect(stepUp.headers.get('www-authenticate')).toContain('error="insufficient_scope", scope="mcp:tools mcp:admin"');
  });

  it('gives a client that forgets `resource` a token for another audience, which the MCP server refuses', async () => {
    const { accessToken } = await login(config, {});
    expect(audienceOf(accessToken)).toEqual([as.defaultAudience]);
    const response = await postInitialize(mcp, accessToken);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(mcp.requests().at(-1)).toMatchObject({ outcome: 'invalid_token', tokenAud: [as.defaultAudience] });
  });

  it('rotates refresh tokens, honours `resource` on refresh, and revokes the grant on replay', async () => {
    const first = await login(config, { authorize: mcp.resource, token: mcp.resource });
    const rt1 = first.refreshToken ?? '';

    const second = await oidc.refreshTokenGrant(config, rt1, { resource: mcp.resource });
    const rt2 = second.refresh_token ?? '';
    expect(rt2).not.toBe('');
    expect(rt2).not.toBe(rt1);
    expect(audienceOf(second.access_token)).toEqual([mcp.resource]);
    expect((await postInitialize(mcp, second.access_token)).status).toBe(200);

    // The seed bug on refresh: no `resource`, still 200, but the audience is wrong.
    const third = await oidc.refreshTokenGrant(config, rt2);
    expect(audienceOf(third.access_token)).toEqual([as.defaultAudience]);
    const rt3 = third.refresh_token ?? '';

    const refreshes = as.requests('token').filter((request) => request.grantType === 'refresh_token');
    expect(refreshes.map((request) => paramValues(request, 'refresh_token'))).toEqual([[secretFingerprint(rt1)], [secretFingerprint(rt2)]]);

    // Presenting a rotated-out refresh token fails, and takes the whole grant with it.
    await expect(oidc.refreshTokenGrant(config, rt1, { resource: mcp.resource })).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, rt3, { resource: mcp.resource })).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('simulates a token endpoint outage', async () => {
    const { refreshToken } = await login(config, { authorize: mcp.resource, token: mcp.resource });
    as.setDown(true);
    try {
      await expect(oidc.refreshTokenGrant(config, refreshToken ?? '', { resource: mcp.resource })).rejects.toBeDefined();
      expect(as.requests('token').at(-1)?.status).toBe(503);
    } finally {
      as.setDown(false);
    }
    // The refresh token was never seen by oidc-provider, so it is still good.
    const after = await oidc.refreshTokenGrant(config, refreshToken ?? '', { resource: mcp.resource });
    expect(audienceOf(after.access_token)).toEqual([mcp.resource]);
  });

  it('the BROWSER script delivers the callback to a loopback listener', async () => {
    const received: string[] = [];
    const listener = http.createServer((req, res) => {
      received.push(req.url ?? '');
      res.end('you may close this window');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const redirectUri = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
    try {
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'mcp:tools',
        state: 'state-123',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        resource: mcp.resource,
      });
      // The native client registered port 9; any loopback port is accepted (RFC 8252 §7.3).
      const { stderr } = await execFileAsync(scriptedBrowserPath, ['--new-window', url.href]);
      expect(stderr).toContain('callback answered 200');
      expect(received).toHaveLength(1);
      const callback = new URL(received[0] ?? '', redirectUri);
      expect(callback.searchParams.get('state')).toBe('state-123');
      expect(callback.searchParams.get('iss')).toBe(as.issuer);
      expect(callback.searchParams.get('code')).toBeTruthy();
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  it('ignoreResource mode mints default-audience tokens whatever the client sends', async () => {
    const broken = await startAuthServer({ ignoreResource: true, issueRefreshTokens: false });
    try {
      const brokenConfig = await register(broken);
      const { accessToken, refreshToken } = await login(brokenConfig, { authorize: mcp.resource, token: mcp.resource });
      expect(audienceOf(accessToken)).toEqual([broken.defaultAudience]);
      expect(refreshToken).toBeUndefined();
      expect(broken.serverErrors()).toEqual([]);
    } finally {
      await broken.stop();
    }
  });

  it('reported no provider errors and recorded what it handed out', () => {
    expect(as.serverErrors()).toEqual([]);
    const registrationToken = config.clientMetadata().registration_access_token;
    expect(typeof registrationToken).toBe('string');
    expect(as.issuedSecrets()).toContain(registrationToken);
  });
});

describe('fixture options', () => {
  it('pre-registered confidential client (client_secret_basic), revocation, token endpoint reset', async () => {
    const as = await startAuthServer({
      preRegisteredClients: [{ clientId: 'pre-basic', clientSecret: 'pre-basic-secret', tokenEndpointAuthMethod: 'client_secret_basic' }],
    });
    const mcp = await startMcpServer({ authServer: as, prmMode: 'root' });
    try {
      expect(mcp.resourceMetadataUrl).toBe(`${mcp.origin}/.well-known/oauth-protected-resource`);
      const config = await oidc.discovery(new URL(as.issuer), 'pre-basic', undefined, oidc.ClientSecretBasic('pre-basic-secret'), {
        execute: [oidc.allowInsecureRequests],
      });
      const { accessToken, refreshToken } = await login(config, { authorize: mcp.resource, token: mcp.resource });
      expect(audienceOf(accessToken)).toEqual([mcp.resource]);
      expect(as.requests('token').at(-1)).toMatchObject({ clientAuth: 'client_secret_basic', clientId: 'pre-basic' });
      expect(as.issuedSecrets()).toContain('pre-basic-secret');

      as.setDown('reset');
      await expect(oidc.refreshTokenGrant(config, refreshToken ?? '', { resource: mcp.resource })).rejects.toBeDefined();
      as.setDown(false);

      await oidc.tokenRevocation(config, refreshToken ?? '', { token_type_hint: 'refresh_token' });
      const revoke = as.requests('revoke').at(-1);
      expect(revoke).toMatchObject({ clientAuth: 'client_secret_basic', status: 200 });
      expect(revoke && paramValues(revoke, 'token')).toEqual([secretFingerprint(refreshToken ?? '')]);
      await expect(oidc.refreshTokenGrant(config, refreshToken ?? '', { resource: mcp.resource })).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      await mcp.stop();
      await as.stop();
    }
  });

  it('DCR with resource scopes fails unless the AS lists them; offline_access listing is optional', async () => {
    const stock = await startAuthServer();
    const listing = await startAuthServer({ listResourceScopes: true, offlineAccessInScopesSupported: false });
    const mcp = await startMcpServer({ authServer: listing });
    const metadata = {
      redirect_uris: [REDIRECT_URI],
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      scope: 'mcp:tools',
    };
    try {
      await expect(
        oidc.dynamicClientRegistration(new URL(stock.issuer), metadata, oidc.None(), { execute: [oidc.allowInsecureRequests] }),
      ).rejects.toMatchObject({ error: 'invalid_client_metadata' });
      const config = await oidc.dynamicClientRegistration(new URL(listing.issuer), metadata, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      expect(config.serverMetadata().scopes_supported).toEqual(['openid', 'mcp:tools', 'mcp:admin']);
      const { accessToken } = await login(config, { authorize: mcp.resource, token: mcp.resource });
      expect(decodeJwt(accessToken)).toMatchObject({ aud: mcp.resource, scope: 'mcp:tools' });
      expect((await postInitialize(mcp, accessToken)).status).toBe(200);
    } finally {
      await mcp.stop();
      await listing.stop();
      await stock.stop();
    }
  });

  it('strict mode refuses an authorization request without resource', async () => {
    const as = await startAuthServer({ defaultAudienceWhenMissing: false });
    try {
      const config = await register(as);
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'mcp:tools',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const { callbackUrl } = await completeLogin(url.href, { deliverCallback: false });
      expect(new URL(callbackUrl).searchParams.get('error')).toBe('invalid_target');
    } finally {
      await as.stop();
    }
  });

  it('stateful MCP server pushes notifications to open sessions', async () => {
    const as = await startAuthServer();
    const mcp = await startMcpServer({ authServer: as, stateful: true });
    try {
      const { accessToken } = await login(await register(as), { authorize: mcp.resource, token: mcp.resource });
      const client = new Client({ name: 'fixture-stateful', version: '0.0.0' });
      const changed = new Promise<void>((resolve) => {
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve());
      });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } }),
      );
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      expect(echoed.content).toEqual([{ type: 'text', text: 'hi' }]);
      // The client opens its GET stream asynchronously after initialize; wait until it is there.
      for (let i = 0; i < 50 && !mcp.requests().some((r) => r.method === 'GET' && r.outcome === 'mcp'); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(mcp.notifyToolListChanged()).toBe(1);
      await changed;
      await client.close();
    } finally {
      await mcp.stop();
      await as.stop();
    }
  });
});
