/**
 * The set-up the SDK adapter tests share (test/mcp-fetch.test.ts,
 * test/mcp-auth-provider.test.ts): a real authorization server
 * (oidc-provider), a real MCP SDK server that checks the token's audience, an
 * in-process daemon on a manual clock, a library client of it, and a scripted
 * approver for the browser step.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpAuthdClient } from '../../client/index.js';
import { startAuthServer, type AuthServer, type AuthServerOptions } from '../fixtures/auth-server.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { startTestDaemon, type TestDaemon } from './in-process-daemon.js';
import { ManualClock } from './manual-clock.js';
import { scriptedApprover, type ScriptedApprover } from './scripted-approver.js';

export interface McpAuthStack {
  as: AuthServer;
  mcp: McpTestServer;
  clock: ManualClock;
  daemon: TestDaemon;
  authd: McpAuthdClient;
  approver: ScriptedApprover;
  /** Stops everything, in reverse order. */
  stop(): Promise<void>;
}

export async function startMcpAuthStack(): Promise<McpAuthStack> {
  const as = await startAuthServer();
  const mcp = await startMcpServer({ authServer: as });
  // Real time for oidc-provider; the daemon's scheduling runs on this clock.
  const clock = new ManualClock(Date.now());
  const daemon = await startTestDaemon({ clock });
  const authd = new McpAuthdClient({ socket: daemon.home.paths.socket });
  const approver = scriptedApprover();
  return {
    as,
    mcp,
    clock,
    daemon,
    authd,
    approver,
    stop: async () => {
      authd.close();
      await daemon.stop();
      await mcp.stop();
      await as.stop();
    },
  };
}

/** Calls the fixture server's echo tool; its text answer. */
export async function echo(client: Client, text: string): Promise<string | undefined> {
  return ((await client.callTool({ name: 'echo', arguments: { text } })).content as { text: string }[])[0]?.text;
}

/** Token endpoint requests of one grant type, in order. */
export function tokenRequests(as: AuthServer, grant: string): ReturnType<AuthServer['requests']> {
  return as.requests('token').filter((r) => r.grantType === grant);
}

/** The distinct access tokens (by jti) the MCP server accepted, in first-seen order. */
export function presentedJtis(mcp: McpTestServer): (string | undefined)[] {
  return [...new Set(mcp.requests().filter((r) => r.outcome === 'mcp').map((r) => r.tokenJti))];
}

/** A real authorization server (oidc-provider) and a real MCP server that trusts it: what most OAuth tests start from. */
export interface OAuthServers {
  as: AuthServer;
  mcp: McpTestServer;
}

export async function startOAuthServers(options: AuthServerOptions = {}): Promise<OAuthServers> {
  const as = await startAuthServer(options);
  return { as, mcp: await startMcpServer({ authServer: as }) };
}

export async function stopOAuthServers({ as, mcp }: OAuthServers): Promise<void> {
  await mcp.stop();
  await as.stop();
}
