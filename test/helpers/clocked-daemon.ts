/**
 * An in-process daemon on a manual clock, its debug log kept (and shown to the
 * secret ledger), a library client of it, and the browser login a refresh
 * test starts from: the set-up of the refresh tests against oidc-provider
 * (test/refresh-failures, refresh-oidc, refresh-wait, refresh-shutdown).
 */
import { McpAuthdClient } from '../../client/index.js';
import { startDaemon, type DaemonHandle, type DaemonOptions } from '../../daemon/daemon.js';
import type { Paths } from '../../shared/paths.js';
import type { LoginResult } from '../../shared/protocol/login-types.js';
import { completeLogin } from '../fixtures/browser.js';
import type { ManualClock } from './manual-clock.js';
import { captureLogs } from './test-logger.js';

export interface ClockedDaemon {
  daemon: DaemonHandle;
  client: McpAuthdClient;
  /** Everything the daemon logged so far (debug level). */
  logs(): string;
  /** Closes the client, then the daemon. */
  stop(): Promise<void>;
}

export interface ClockedDaemonOptions {
  paths: Paths;
  /** The daemon's scheduling clock; real time when omitted. */
  clock?: ManualClock;
  /** Names the log in the secret ledger's report. */
  label: string;
  /** The client's request timeout; the library's default when omitted. */
  clientTimeoutMs?: number;
  daemon?: Partial<DaemonOptions>;
}

export async function startClockedDaemon(options: ClockedDaemonOptions): Promise<ClockedDaemon> {
  const captured = captureLogs(`${options.label} daemon log`);
  const daemon = await startDaemon({
    paths: options.paths,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    logger: captured.logger,
    ...options.daemon,
  });
  const client = new McpAuthdClient({ socket: options.paths.socket, ...(options.clientTimeoutMs === undefined ? {} : { timeoutMs: options.clientTimeoutMs }) });
  return {
    daemon,
    client,
    logs: captured.text,
    stop: async () => {
      client.close();
      await daemon.close();
    },
  };
}

/** A login through the daemon with the scripted browser approving it (loopback http allowed: test servers). */
export function browserLogin(client: McpAuthdClient, serverUrl: string, scopes?: string[]): Promise<LoginResult> {
  return client.login({ server_url: serverUrl, insecure_loopback: true, ...(scopes === undefined ? {} : { scopes }) }, (p) => {
    if (p.stage === 'authorize_url' && p.authorize_url !== undefined) void completeLogin(p.authorize_url);
  });
}

/**
 * A state directory holding one logged-in credential for `serverUrl`, made by
 * an in-process daemon that is stopped again: for tests that then hand the
 * directory to a real daemon process.
 */
export async function loginAndHandOver(paths: Paths, serverUrl: string, label: string): Promise<void> {
  const session = await startClockedDaemon({ paths, label });
  try {
    await browserLogin(session.client, serverUrl);
  } finally {
    await session.stop();
  }
}
