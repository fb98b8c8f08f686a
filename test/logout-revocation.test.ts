/**
 * Issue 12 item 11: `logout` says what was revoked. oidc-provider revokes the
 * refresh token and declines its JWT access tokens (unsupported_token_type,
 * RFC 7009 §2.2.1): the user must read that only the refresh token was
 * revoked, and until when the access token stays valid. Daemon process, CLI,
 * real authorization and MCP servers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../client/index.js';
import type { AuthServer } from './fixtures/auth-server.js';
import { completeLogin } from './fixtures/browser.js';
import type { McpTestServer } from './fixtures/mcp-server.js';
import { runCliAsync } from './helpers/daemon-process.js';
import { startProcessStack, type ProcessStack } from './helpers/process-stack.js';
import type { TempHome } from './helpers/temp-home.js';

describe('logout against oidc-provider (T4)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let authd: McpAuthdClient;

  const login = async (): Promise<number> => {
    const result = await authd.login({ server_url: mcp.url, insecure_loopback: true }, (p) => {
      if (p.stage === 'authorize_url' && p.authorize_url !== undefined) void completeLogin(p.authorize_url);
    });
    if (result.expires_at === null) throw new Error('the fixture issued an access token without expiry');
    return result.expires_at;
  };

  let stack: ProcessStack;
  beforeAll(async () => {
    stack = await startProcessStack();
    ({ as, mcp, home, authd } = stack);
  });
  afterAll(() => stack.stop());

  it('should say only the refresh token was revoked, and until when the access token stays valid', async () => {
    const expiresAt = await login();
    const until = new Date(expiresAt * 1000).toISOString();
    const result = await runCliAsync(['logout', mcp.url], home.env);
    expect(result.status).toBe(0);
    expect(as.requests('revoke').map((r) => r.status)).toEqual([200, 400]);
    expect(result.stdout).not.toMatch(/tokens revoked/);
    expect(result.stdout).toContain('revoked at the authorization server: refresh token');
    expect(result.stderr).toContain(`the access token was not revoked`);
    expect(result.stderr).toContain(`stays valid until ${until}`);
  });

  it('--json: should list the revoked tokens and the access token expiry', async () => {
    const expiresAt = await login();
    as.clearRequests();
    const result = await runCliAsync(['logout', mcp.url, '--json'], home.env);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      deleted: true,
      resource: mcp.resource,
      revoked: false,
      revoked_tokens: ['refresh_token'],
      access_token_expires_at: expiresAt,
    });
  });
});
