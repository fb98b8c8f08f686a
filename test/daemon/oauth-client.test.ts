import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { AuthorizationServerMetadata } from '../../daemon/oauth/authorization-server-metadata.js';
import type { FetchFunction } from '../../daemon/oauth/http-fetch.js';
import { chooseTokenEndpointAuthMethod, preRegisteredClient } from '../../daemon/oauth/client-auth.js';
import type { ClientCredentials } from '../../daemon/oauth/client-auth.js';
import {
  assertPkceS256,
  buildAuthorizationRequest,
  createOAuthClient,
  exchangeAuthorizationCode,
  refreshTokenGrant,
  revokeToken,
} from '../../daemon/oauth/oauth-client.js';
import type { AuthorizationRequest, OAuthClient } from '../../daemon/oauth/oauth-client.js';
import { checkRegistration, metadataDocumentClient, registerClient } from '../../daemon/oauth/registration.js';
import { Secret } from '../../daemon/store/secret.js';
import type { ClientRegistration } from '../../daemon/store/token-store.js';
import { json, startTinyServer } from './support/tiny-http.js';
import type { TinyRequest, TinyServer } from './support/tiny-http.js';
import { failure } from './support/expect-failure.js';

const HTTP = { allowInsecureLoopback: true };
const RESOURCE = 'https://MCP.example';
const PUBLIC: ClientCredentials = { clientId: 'client-1', clientSecret: null, tokenEndpointAuthMethod: 'none' };

function jwt(payload: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256' })}.${part(payload)}.c2ln`;
}

function metadataFor(origin: string, extra: Partial<AuthorizationServerMetadata> = {}): AuthorizationServerMetadata {
  return {
    issuer: origin,
    authorization_endpoint: `${origin}/authorize`,
    token_endpoint: `${origin}/token`,
    registration_endpoint: `${origin}/register`,
    revocation_endpoint: `${origin}/revoke`,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    ...extra,
  };
}


function form(request: TinyRequest | undefined): URLSearchParams {
  return new URLSearchParams(request?.body ?? '');
}

describe('oauth-client', () => {
  let server: TinyServer;
  let metadata: AuthorizationServerMetadata;
  // What the fake token endpoint answers next.
  let tokenAnswer: { status: number; body: string; headers?: Record<string, string> };

  beforeAll(async () => {
    server = await startTinyServer({
      '/token': (_req, res) => {
        res.writeHead(tokenAnswer.status, { 'content-type': 'application/json', ...tokenAnswer.headers });
        res.end(tokenAnswer.body);
      },
      '/revoke': (_req, res) => {
        res.writeHead(200).end();
      },
    });
    metadata = metadataFor(server.origin);
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => {
    server.requests.length = 0;
    tokenAnswer = { status: 200, body: JSON.stringify({ access_token: jwt({ aud: RESOURCE }), token_type: 'Bearer', expires_in: 300 }) };
  });

  async function authorizationRequest(client: OAuthClient, scopes: string[] = ['mcp:tools']): Promise<AuthorizationRequest> {
    return buildAuthorizationRequest(client, { redirectUri: 'http://127.0.0.1:5555/callback', resource: RESOURCE, scopes });
  }

  async function exchange(client: OAuthClient): Promise<ReturnType<typeof exchangeAuthorizationCode>> {
    const request = await authorizationRequest(client);
    return exchangeAuthorizationCode(client, request, { code: new Secret('the-code'), state: request.state, iss: server.origin }, () => 1_000);
  }

  describe('client identity', () => {
    it('C1: picks client_secret_basic, else client_secret_post, from what the AS lists', () => {
      expect(chooseTokenEndpointAuthMethod(metadataFor('https://a', { token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'] }), true)).toBe(
        'client_secret_basic',
      );
      expect(chooseTokenEndpointAuthMethod(metadataFor('https://a', { token_endpoint_auth_methods_supported: ['client_secret_post'] }), true)).toBe('client_secret_post');
      expect(chooseTokenEndpointAuthMethod(metadataFor('https://a'), true)).toBe('client_secret_basic');
      expect(chooseTokenEndpointAuthMethod(metadataFor('https://a'), false)).toBe('none');
      expect(() => chooseTokenEndpointAuthMethod(metadataFor('https://a', { token_endpoint_auth_methods_supported: ['private_key_jwt'] }), true)).toThrow(
        /none of the client authentication methods/,
      );
      expect(() => chooseTokenEndpointAuthMethod(metadataFor('https://a', { token_endpoint_auth_methods_supported: ['client_secret_basic'] }), false)).toThrow(
        /pass the client secret/,
      );
    });

    it('C1: a public pre-registered client drops a secret the AS has no use for', () => {
      const only = metadataFor('https://a', { token_endpoint_auth_methods_supported: ['none'] });
      expect(preRegisteredClient(only, 'id', new Secret('s'))).toEqual({ clientId: 'id', clientSecret: null, tokenEndpointAuthMethod: 'none' });
    });

    it('C1: authenticates with client_secret_post and client_secret_basic as chosen', async () => {
      const post = createOAuthClient(metadata, { clientId: 'pre', clientSecret: new Secret('s3cret'), tokenEndpointAuthMethod: 'client_secret_post' }, HTTP);
      await exchange(post);
      expect(form(server.requests[0]).get('client_secret')).toBe('s3cret');
      expect(server.requests[0]?.headers.authorization).toBeUndefined();

      server.requests.length = 0;
      const basic = createOAuthClient(metadata, { clientId: 'pre', clientSecret: new Secret('s3cret'), tokenEndpointAuthMethod: 'client_secret_basic' }, HTTP);
      await exchange(basic);
      expect(server.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('pre:s3cret').toString('base64')}`);
      expect(form(server.requests[0]).has('client_secret')).toBe(false);

      expect(() => createOAuthClient(metadata, { clientId: 'x', clientSecret: null, tokenEndpointAuthMethod: 'client_secret_basic' }, HTTP)).toThrow(
        /no client secret/,
      );
    });

    it('C1: encodes client_secret_basic credentials as RFC 6749 §2.3.1 says, leaving "-._*" as they are', async () => {
      const basic = createOAuthClient(metadata, { clientId: 'pre-registered.client_1', clientSecret: new Secret('s3-cr:et é'), tokenEndpointAuthMethod: 'client_secret_basic' }, HTTP);
      await exchange(basic);
      const header = server.requests.at(-1)?.headers.authorization ?? '';
      expect(Buffer.from(header.replace(/^Basic /, ''), 'base64').toString()).toBe('pre-registered.client_1:s3-cr%3Aet+%C3%A9');
    });

    it('C2: a client ID metadata document URL is the client_id, only when the AS supports them', () => {
      const supported = metadataFor('https://a', { client_id_metadata_document_supported: true });
      expect(metadataDocumentClient(supported, 'https://client.example/mcpauthd.json', false)).toEqual({
        clientId: 'https://client.example/mcpauthd.json',
        clientSecret: null,
        tokenEndpointAuthMethod: 'none',
      });
      expect(() => metadataDocumentClient(metadataFor('https://a'), 'https://client.example/m.json', false)).toThrow(/does not support client ID metadata/);
      expect(() => metadataDocumentClient(supported, 'https://client.example/', false)).toThrow(/needs a path/);
      expect(() => metadataDocumentClient(supported, 'http://client.example/m.json', true)).toThrow(/plain HTTP/);
    });
  });

  describe('dynamic client registration', () => {
    it('C3: registers a native public client with loopback redirect, both grants, and no scope', async () => {
      server.route('/register', (_req, res) => json(res, 201, { client_id: 'dyn-1', token_endpoint_auth_method: 'none' }));
      const registration = await registerClient(metadata, 'http://127.0.0.1:4444/callback', HTTP);
      const sent = JSON.parse(server.requests[0]?.body ?? '{}') as Record<string, unknown>;
      expect(sent).toEqual({
        client_name: 'mcpauthd',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1:4444/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
      expect(registration).toMatchObject({ issuer: server.origin, clientId: 'dyn-1', clientSecret: null, tokenEndpointAuthMethod: 'none', kind: 'dynamic' });
    });

    it('C3: honours the auth method and secret the AS assigns', async () => {
      server.route('/register', (_req, res) =>
        json(res, 201, {
          client_id: 'dyn-2',
          client_secret: 'assigned-secret',
          token_endpoint_auth_method: 'client_secret_basic',
          registration_access_token: 'rat',
          registration_client_uri: `${server.origin}/register/dyn-2`,
        }),
      );
      const only = metadataFor(server.origin, { token_endpoint_auth_methods_supported: ['client_secret_basic'] });
      const registration = await registerClient(only, 'http://127.0.0.1:4444/callback', HTTP);
      expect(JSON.parse(server.requests[0]?.body ?? '{}')).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic' });
      expect(registration.tokenEndpointAuthMethod).toBe('client_secret_basic');
      expect(registration.clientSecret?.reveal()).toBe('assigned-secret');
      expect(registration.registrationAccessToken?.reveal()).toBe('rat');
      expect(JSON.stringify(registration)).not.toContain('assigned-secret');
    });

    it('C3: reports a refused or unusable registration without echoing the body', async () => {
      server.route('/register', (_req, res) => json(res, 400, { error: 'invalid_client_metadata', error_description: 'scope must only contain supported values' }));
      const refused = await failure(registerClient(metadata, 'http://127.0.0.1:1/callback', HTTP));
      expect(refused.message).toBe(
        `client registration at ${server.origin}/register was refused: HTTP 400: invalid_client_metadata (scope must only contain supported values)`,
      );
      server.route('/register', (_req, res) => json(res, 201, { client_secret: 'leaky-secret' }));
      const noId = await failure(registerClient(metadata, 'http://127.0.0.1:1/callback', HTTP));
      expect(noId.data?.['reason']).toBe('registration_failed');
      expect(noId.message).not.toContain('leaky-secret');
      server.route('/register', (_req, res) => json(res, 201, { client_id: 'x', token_endpoint_auth_method: 'private_key_jwt' }));
      expect((await failure(registerClient(metadata, 'http://127.0.0.1:1/callback', HTTP))).message).toMatch(/does not do/);
      const none = metadataFor(server.origin, { registration_endpoint: undefined });
      delete none.registration_endpoint;
      expect((await failure(registerClient(none, 'http://127.0.0.1:1/callback', HTTP))).data?.['reason']).toBe('registration_unsupported');
    });

    it('C3, T1: checks a stored registration with an RFC 7592 read, its token only in the Authorization header', async () => {
      const stored: ClientRegistration = {
        issuer: server.origin,
        clientId: 'dyn-9',
        clientSecret: null,
        tokenEndpointAuthMethod: 'none',
        registrationAccessToken: new Secret('rat-9'),
        registrationClientUri: `${server.origin}/register/dyn-9`,
        redirectUris: [],
        kind: 'dynamic',
        createdAt: 0,
      };
      let status = 200;
      server.route('/register/dyn-9', (_req, res) => json(res, status, status === 200 ? { client_id: 'dyn-9' } : { error: 'invalid_token' }));
      expect(await checkRegistration(stored, HTTP)).toEqual({ status: 'valid', rotatedAccessToken: null });
      expect(server.requests[0]?.headers.authorization).toBe('Bearer rat-9');
      expect([...(server.requests[0]?.query.values() ?? [])]).toEqual([]);
      status = 401;
      expect((await checkRegistration(stored, HTTP)).status).toBe('invalid');
      status = 500;
      expect((await checkRegistration(stored, HTTP)).status).toBe('unknown');
      expect((await checkRegistration({ ...stored, registrationClientUri: null }, HTTP)).status).toBe('unknown');
    });

    it('C3, T1: never sends the registration access token to a registration_client_uri on another origin than the authorization server', async () => {
      // A second server on another port is another origin: it must never see the token.
      const elsewhere = await startTinyServer({ '/register/dyn-9': (_req, res) => json(res, 200, { client_id: 'dyn-9' }) });
      try {
        const stored: ClientRegistration = {
          issuer: server.origin,
          clientId: 'dyn-9',
          clientSecret: null,
          tokenEndpointAuthMethod: 'none',
          registrationAccessToken: new Secret('rat-cross-origin'),
          registrationClientUri: `${elsewhere.origin}/register/dyn-9`,
          redirectUris: [],
          kind: 'dynamic',
          createdAt: 0,
        };
        // Unusable for the read: 'unknown', so the login goes on without asking anyone.
        expect(await checkRegistration(stored, HTTP)).toEqual({ status: 'unknown', rotatedAccessToken: null });
        expect(elsewhere.requests).toEqual([]);
        expect(server.requests).toEqual([]);
      } finally {
        await elsewhere.stop();
      }
    });
  });

  describe('authorization request', () => {
    it('A1: refuses an AS that does not advertise S256', async () => {
      for (const methods of [undefined, ['plain']]) {
        const weak = metadataFor('https://a');
        if (methods === undefined) delete weak.code_challenge_methods_supported;
        else weak.code_challenge_methods_supported = methods;
        expect(() => assertPkceS256(weak)).toThrow(/PKCE S256/);
        const client = createOAuthClient(weak, PUBLIC, HTTP);
        expect((await failure(authorizationRequest(client))).data?.['reason']).toBe('pkce_unsupported');
      }
    });

    it('A1, A2, R1, R2: S256 challenge of the verifier, fresh state, resource verbatim and once', async () => {
      const client = createOAuthClient(metadata, PUBLIC, HTTP);
      const first = await authorizationRequest(client);
      const second = await authorizationRequest(client);
      const url = new URL(first.url);
      expect(`${url.origin}${url.pathname}`).toBe(`${server.origin}/authorize`);
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.get('code_challenge')).toBe(createHash('sha256').update(first.codeVerifier.reveal()).digest('base64url'));
      expect(url.searchParams.get('state')).toBe(first.state);
      expect(first.state).not.toBe(second.state);
      expect(first.state.length).toBeGreaterThanOrEqual(32);
      expect(url.searchParams.getAll('resource')).toEqual(['https://MCP.example']);
      expect(url.searchParams.get('client_id')).toBe('client-1');
      expect(url.searchParams.get('response_type')).toBe('code');
      expect(url.searchParams.get('redirect_uri')).toBe('http://127.0.0.1:5555/callback');
      expect(url.searchParams.get('scope')).toBe('mcp:tools');
      expect(first.url).not.toContain(first.codeVerifier.reveal());
      expect(new URL((await authorizationRequest(client, [])).url).searchParams.has('scope')).toBe(false);
    });
  });

  describe('token endpoint', () => {
    it('R1, R4: the code exchange sends the same resource once, with the PKCE verifier', async () => {
      const client = createOAuthClient(metadata, PUBLIC, HTTP);
      const request = await authorizationRequest(client);
      const tokens = await exchangeAuthorizationCode(client, request, { code: new Secret('the-code'), state: request.state, iss: server.origin }, () => 42);
      const sent = form(server.requests[0]);
      expect(sent.getAll('resource')).toEqual([new URL(request.url).searchParams.get('resource')]);
      expect(sent.get('grant_type')).toBe('authorization_code');
      expect(sent.get('code')).toBe('the-code');
      expect(sent.get('code_verifier')).toBe(request.codeVerifier.reveal());
      expect(sent.get('redirect_uri')).toBe('http://127.0.0.1:5555/callback');
      expect(tokens.expiresAt).toBe(42 + 300_000);
    });

    it('R5: a 200 token response for another audience is a failure', async () => {
      tokenAnswer.body = JSON.stringify({ access_token: jwt({ aud: 'https://default.invalid/' }), token_type: 'Bearer', expires_in: 300 });
      const err = await failure(exchange(createOAuthClient(metadata, PUBLIC, HTTP)));
      expect(err.data?.['reason']).toBe('audience_mismatch');
      expect(err.message).toContain('ignored the resource indicator');
    });

    it('validates the raw response: token_type, access_token and expires_in as sent', async () => {
      const client = createOAuthClient(metadata, PUBLIC, HTTP);
      const cases: [Record<string, unknown>, string][] = [
        [{ access_token: 'a', token_type: 'mac' }, 'unsupported_token_type'],
        [{ token_type: 'Bearer' }, 'invalid_token_response'],
        [{ access_token: 'a', token_type: 'Bearer', expires_in: '3600' }, 'invalid_expires_in'],
        [{ access_token: 'a', token_type: 'Bearer', expires_in: -5 }, 'invalid_expires_in'],
      ];
      for (const [body, expected] of cases) {
        tokenAnswer.body = JSON.stringify(body);
        expect((await failure(exchange(client))).data?.['reason']).toBe(expected);
      }
    });

    it('refuses a non-JSON or oversized token response without echoing it', async () => {
      const client = createOAuthClient(metadata, PUBLIC, HTTP);
      tokenAnswer.body = 'access_token=leaked-token-value';
      const notJson = await failure(exchange(client));
      expect(notJson.data?.['reason']).toBe('not_json');
      expect(notJson.message).not.toContain('leaked-token-value');
      tokenAnswer.body = JSON.stringify({ access_token: 'x'.repeat(300 * 1024), token_type: 'Bearer' });
      expect((await failure(exchange(client))).data?.['reason']).toBe('too_large');
    });

    it('maps OAuth error responses to codes without the body', async () => {
      const client = createOAuthClient(metadata, PUBLIC, HTTP);
      tokenAnswer = { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_description: 'code eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl expired', refresh_token: 'rt-in-body' }) };
      const grant = await failure(exchange(client));
      expect(grant.code).toBe('OAUTH_FAILED');
      expect(grant.data).toMatchObject({ reason: 'oauth_error', error: 'invalid_grant', status: 400 });
      expect(grant.message).toBe('authorization server answered invalid_grant (code [redacted-jwt] expired), HTTP 400');
      tokenAnswer = { status: 401, body: JSON.stringify({ error: 'invalid_client' }) };
      expect((await failure(exchange(client))).data?.['error']).toBe('invalid_client');
      tokenAnswer = { status: 503, body: '<html>down</html>', headers: { 'content-type': 'text/html' } };
      const down = await failure(exchange(client));
      expect(down.message).not.toContain('down</html>');
    });

    it('A5: refuses a plain-http token endpoint on a non-loopback host before sending anything', async () => {
      let called = false;
      const spy: FetchFunction = () => {
        called = true;
        throw new Error('no request may be made');
      };
      const insecure = metadataFor(server.origin, { token_endpoint: 'http://as.example/token' });
      const err = await failure(exchange(createOAuthClient(insecure, PUBLIC, { allowInsecureLoopback: true, fetch: spy })));
      expect(err.code).toBe('INVALID_RESOURCE');
      expect(called).toBe(false);
    });

    it('R3: the refresh grant always sends the resource and no scope unless asked', async () => {
      const client = createOAuthClient(metadata, PUBLIC, HTTP);
      tokenAnswer.body = JSON.stringify({ access_token: jwt({ aud: RESOURCE }), token_type: 'Bearer', expires_in: 60, refresh_token: 'rt-2' });
      const tokens = await refreshTokenGrant(client, new Secret('rt-1'), { resource: RESOURCE, grantedScopes: ['mcp:tools'], now: () => 0 });
      const sent = form(server.requests[0]);
      expect(sent.get('grant_type')).toBe('refresh_token');
      expect(sent.get('refresh_token')).toBe('rt-1');
      expect(sent.getAll('resource')).toEqual([RESOURCE]);
      expect(sent.has('scope')).toBe(false);
      expect(tokens.refreshToken?.reveal()).toBe('rt-2');
      expect(tokens.scopes).toEqual(['mcp:tools']);
    });

    it('R3, R5: a refresh answered with a token for another audience fails', async () => {
      tokenAnswer.body = JSON.stringify({ access_token: jwt({ aud: 'https://as.example/userinfo' }), token_type: 'Bearer' });
      const client = createOAuthClient(metadata, PUBLIC, HTTP);
      const err = await failure(refreshTokenGrant(client, new Secret('rt-1'), { resource: RESOURCE, grantedScopes: [], now: () => 0 }));
      expect(err.data?.['reason']).toBe('audience_mismatch');
    });
  });

  it('T4: revokes a token with its type hint at the revocation endpoint', async () => {
    const client = createOAuthClient(metadata, PUBLIC, HTTP);
    await revokeToken(client, new Secret('rt-to-revoke'), 'refresh_token');
    const sent = form(server.requests[0]);
    expect(server.requests[0]?.path).toBe('/revoke');
    expect(sent.get('token')).toBe('rt-to-revoke');
    expect(sent.get('token_type_hint')).toBe('refresh_token');
    const without = metadataFor(server.origin);
    delete without.revocation_endpoint;
    expect((await failure(revokeToken(createOAuthClient(without, PUBLIC, HTTP), new Secret('x'), 'access_token'))).data?.['reason']).toBe(
      'revocation_unsupported',
    );
  });
});
