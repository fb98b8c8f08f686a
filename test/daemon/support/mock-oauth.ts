// One tiny server playing both an MCP server (401 + PRM) and a minimal
// authorization server, for the misbehaviours oidc-provider cannot show:
// wrong issuers, missing PKCE support, garbage token responses, legacy
// servers without PRM, client ID metadata documents. The /authorize endpoint
// redirects straight back with a code, so the scripted browser completes it.
import type http from 'node:http';
import { json, startTinyServer } from './tiny-http.js';
import type { TinyRequest, TinyServer } from './tiny-http.js';

export interface MockOAuth {
  readonly server: TinyServer;
  readonly origin: string;
  readonly mcpUrl: string;
  /** Changes to the AS metadata (fields set to undefined are removed). */
  metadata: Record<string, unknown>;
  /** What the token endpoint answers; default a Bearer JWT whose aud is the request's resource. */
  token: (form: URLSearchParams) => { status: number; body: string };
  requests(path: string): TinyRequest[];
  stop(): Promise<void>;
}

export interface MockOAuthOptions {
  /** Publish PRM at the path-specific well-known URL (default) or not at all (a 2025-03-26 server). */
  prm?: boolean;
  /** Serve AS metadata at all (default true). */
  asMetadata?: boolean;
}

export function fakeJwt(payload: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'at+jwt' })}.${part(payload)}.c2lnbmF0dXJl`;
}

export function bearerFor(form: URLSearchParams): { status: number; body: string } {
  return {
    status: 200,
    body: JSON.stringify({ access_token: fakeJwt({ aud: form.get('resource') }), token_type: 'Bearer', expires_in: 600, scope: 'mcp:tools' }),
  };
}

export async function startMockOAuth(options: MockOAuthOptions = {}): Promise<MockOAuth> {
  const server = await startTinyServer();
  const origin = server.origin;
  const mock: MockOAuth = {
    server,
    origin,
    mcpUrl: `${origin}/mcp`,
    metadata: {
      issuer: origin,
      authorization_endpoint: `${origin}/authorize`,
      token_endpoint: `${origin}/token`,
      registration_endpoint: `${origin}/register`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      scopes_supported: ['mcp:tools'],
    },
    token: bearerFor,
    requests: (path) => server.requests.filter((r) => r.path === path),
    stop: () => server.stop(),
  };
  const prm = options.prm ?? true;

  server.route('/mcp', (_req, res) => {
    const header = prm ? `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"` : 'Bearer realm="mcp"';
    res.writeHead(401, { 'www-authenticate': header }).end();
  });
  if (prm) {
    server.route('/.well-known/oauth-protected-resource/mcp', (_req, res) =>
      json(res, 200, { resource: mock.mcpUrl, authorization_servers: [origin], scopes_supported: ['mcp:tools'] }),
    );
  }
  if (options.asMetadata ?? true) {
    server.route('/.well-known/oauth-authorization-server', (_req, res) => json(res, 200, mock.metadata));
  }
  server.route('/register', (req, res) => {
    const body = JSON.parse(req.body) as { redirect_uris?: string[] };
    json(res, 201, { client_id: 'mock-client', token_endpoint_auth_method: 'none', redirect_uris: body.redirect_uris });
  });
  server.route('/authorize', (req: TinyRequest, res: http.ServerResponse) => {
    const redirect = new URL(req.query.get('redirect_uri') ?? '');
    redirect.searchParams.set('code', 'mock-code-0123456789');
    redirect.searchParams.set('state', req.query.get('state') ?? '');
    redirect.searchParams.set('iss', origin);
    res.writeHead(302, { location: redirect.href }).end();
  });
  server.route('/token', (req, res) => {
    const answer = mock.token(new URLSearchParams(req.body));
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  return mock;
}
