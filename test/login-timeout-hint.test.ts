/**
 * A login the daemon gave up waiting for (no browser approval within the
 * login's `timeout`) reaches a library caller as `needs_login` naming the
 * command to run, not as a bare `login_failed`. Real daemon, real
 * authorization server and MCP server; the "user" never approves.
 *
 * The check looked for OAUTH_FAILED, a code that only exists inside the
 * daemon: over the socket the failure is `login_failed` with
 * `data.reason: "timeout"` (FailureReason in shared/protocol/types.ts), so the hint
 * never showed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../client/index.js';
import { createAuthorizedFetch } from '../client/mcp-fetch.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { startTestDaemon, type TestDaemon } from './helpers/in-process-daemon.js';

describe('a login nobody approves', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let daemon: TestDaemon;
  let authd: McpAuthdClient;

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    daemon = await startTestDaemon();
    authd = new McpAuthdClient({ socket: daemon.home.paths.socket });
  });
  afterAll(async () => {
    authd.close();
    await daemon.stop();
    await mcp.stop();
    await as.stop();
  });

  it('should end in needs_login naming `mcpauthd login <server>`', async () => {
    const shown: string[] = [];
    const f = createAuthorizedFetch(mcp.url, { client: authd, login: { insecure_loopback: true, timeout: 1 }, onAuthorizeUrl: (url) => void shown.push(url) });
    const call = f(mcp.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    await expect(call).rejects.toMatchObject({
      code: 'needs_login',
      message: expect.stringContaining(`was not approved in time`),
      data: { server_url: mcp.url, command: `mcpauthd login ${mcp.url}` },
    });
    expect(shown).toHaveLength(1);
    expect(as.requests('token')).toHaveLength(0);
  });
});
