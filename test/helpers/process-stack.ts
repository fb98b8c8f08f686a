/**
 * The set-up of tests that drive a real daemon process from the outside (CLI,
 * Python client, logout): a real authorization server and MCP server, a
 * temporary state directory, a daemon process on it and a library client of
 * it. The login stays in each test: what it logs in to is what it tests.
 */
import { McpAuthdClient } from '../../client/index.js';
import type { AuthServer, AuthServerOptions } from '../fixtures/auth-server.js';
import type { McpTestServer } from '../fixtures/mcp-server.js';
import { startDaemonProcess, type DaemonProcess } from './daemon-process.js';
import { startOAuthServers, stopOAuthServers } from './mcp-auth-stack.js';
import { makeTempHome, type TempHome } from './temp-home.js';

export interface ProcessStack {
  as: AuthServer;
  mcp: McpTestServer;
  home: TempHome;
  daemon: DaemonProcess;
  authd: McpAuthdClient;
  /** Closes the client, stops the daemon, removes the home, stops the servers. */
  stop(): Promise<void>;
}

export async function startProcessStack(options: AuthServerOptions = {}): Promise<ProcessStack> {
  const servers = await startOAuthServers(options);
  const home = makeTempHome();
  const daemon = await startDaemonProcess(home.env);
  const authd = new McpAuthdClient({ socket: home.paths.socket });
  return {
    ...servers,
    home,
    daemon,
    authd,
    stop: async () => {
      authd.close();
      await daemon.stop();
      home.remove();
      await stopOAuthServers(servers);
    },
  };
}
