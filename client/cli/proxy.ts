/**
 * `mcpauthd proxy <mcp-server-url>`: a stdio MCP server that forwards every
 * JSON-RPC message, unchanged, to a remote MCP server over Streamable HTTP
 * (or the old HTTP+SSE transport when the server speaks only that), carrying
 * the daemon's token. Stdio-only MCP clients (editors, desktop apps, CLIs)
 * get OAuth without knowing it exists.
 *
 * The SDK's transports are used raw: messages are piped both ways, not
 * interpreted, except to learn the negotiated protocol version (the HTTP
 * transports must send it as a header) and to answer a request that could
 * not be delivered. Tokens come from createAuthorizedFetch, so a 401 is
 * renewed through the daemon (several proxies share one credential and one
 * refresh) and a 403 insufficient_scope steps up.
 *
 * stdout carries protocol messages only; every diagnostic goes to stderr.
 * The proxy loads the SDK, so the CLI imports this module lazily.
 */
import type { Readable, Writable } from 'node:stream';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { isAuthdError } from '../../shared/errors.js';
import type { LoginOptions } from '../daemon-credential.js';
import type { McpAuthdClient } from '../index.js';
import { createAuthorizedFetch } from '../mcp-fetch.js';
import { openBrowser } from './open-browser.js';

/**
 * JSON-RPC error code for a request the proxy could not deliver (the
 * implementation-defined server error range of JSON-RPC 2.0).
 */
export const PROXY_ERROR_CODE = -32000;
/**
 * How long a request waits for a login the proxy started before it is
 * answered with an error naming `mcpauthd login <url>`. Below the MCP
 * TypeScript SDK's default request timeout (60 s, DEFAULT_REQUEST_TIMEOUT_MSEC),
 * so the client shows our message rather than its own timeout.
 */
export const PROXY_LOGIN_WAIT_MS = 45_000;
/** How long shutdown waits for the remote to acknowledge the end of the session. */
export const SESSION_END_TIMEOUT_MS = 2_000;

export interface ProxyOptions {
  /** The remote MCP endpoint. */
  serverUrl: string;
  /** Close it once runProxy resolves: that also cancels a login still waiting for approval. */
  client: McpAuthdClient;
  /** Parameters for a login the proxy has to start. */
  login?: LoginOptions;
  /** Open the authorize URL in a browser (default true); it is always printed on stderr. */
  openBrowser?: boolean;
  /** How long a request waits for a login before it is answered with the command to run (default PROXY_LOGIN_WAIT_MS). */
  loginWaitMs?: number;
  /** Defaults: the process's stdin and stdout. */
  stdin?: Readable;
  stdout?: Writable;
  /** One diagnostic line (default: stderr, prefixed "mcpauthd proxy:"). */
  log?: (line: string) => void;
}

/** Runs the proxy until stdin closes (or SIGTERM/SIGINT/SIGHUP); resolves with the exit status. */
export async function runProxy(options: ProxyOptions): Promise<number> {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const log = options.log ?? ((line: string) => void process.stderr.write(`mcpauthd proxy: ${line}\n`));
  if (stdout === process.stdout) keepStdoutForProtocol();
  const serverUrl = new URL(options.serverUrl);
  const fetch = createAuthorizedFetch(options.serverUrl, {
    client: options.client,
    ...(options.login === undefined ? {} : { login: options.login }),
    loginWaitMs: options.loginWaitMs ?? PROXY_LOGIN_WAIT_MS,
    onAuthorizeUrl: (url, cancel) => {
      log(`log in to ${options.serverUrl} to continue; open this URL to approve:\n\n  ${url}\n`);
      if (options.openBrowser === false) return;
      openBrowser(url, (problem) => {
        log(problem);
        // A GUI client's user never sees our stderr: answer now with the command, rather than wait for nobody.
        cancel(`mcpauthd could not open a browser to log in to ${options.serverUrl}`);
      });
    },
  });

  const local = new StdioServerTransport(stdin, stdout);
  let remote: Transport | undefined;
  let opening: Promise<Transport> | undefined;
  // Ids of `initialize` requests in flight: their results carry the protocol version.
  const initializeIds = new Set<RequestId>();

  const toLocal = (message: JSONRPCMessage): void => {
    local.send(message).catch((err: unknown) => log(`could not write to the client: ${errorText(err)}`));
  };

  const wire = (transport: Transport): void => {
    transport.onmessage = (message) => {
      if (isJSONRPCResultResponse(message) && initializeIds.delete(message.id)) {
        const version = message.result['protocolVersion'];
        if (typeof version === 'string') transport.setProtocolVersion?.(version);
      }
      toLocal(message);
    };
  };
  // Set once shutdown starts: from then on, streams that end (the session's
  // event stream aborted by close(), or cut by the server after DELETE) are
  // the shutdown itself, not something the user should be told about.
  let closing = false;
  const logErrors = (transport: Transport): void => {
    transport.onerror = (err) => {
      if (!closing) log(`remote: ${errorText(err)}`);
    };
  };

  // The first message decides the transport: Streamable HTTP, or HTTP+SSE
  // when the server answers the POST with a 4xx that means "not here" (the
  // spec's backwards-compatibility rule for 2024-11-05 servers).
  const open = async (first: JSONRPCMessage): Promise<Transport> => {
    const streamable = new StreamableHTTPClientTransport(serverUrl, { fetch });
    wire(streamable);
    await streamable.start();
    try {
      // Errors of this probe are reported once, by the caller or as the fallback below.
      await streamable.send(first);
      logErrors(streamable);
      return streamable;
    } catch (err) {
      await streamable.close();
      if (!meansNoStreamableHttp(err)) throw err;
      log(`${options.serverUrl} does not speak Streamable HTTP (it answered HTTP ${String((err as StreamableHTTPError).code)}); using the HTTP+SSE transport`);
    }
    const sse = new SSEClientTransport(serverUrl, { fetch });
    wire(sse);
    logErrors(sse);
    await sse.start();
    await sse.send(first);
    return sse;
  };

  const toRemote = async (message: JSONRPCMessage): Promise<void> => {
    if (isJSONRPCRequest(message) && message.method === 'initialize') initializeIds.add(message.id);
    try {
      if (remote !== undefined) {
        await remote.send(message);
      } else if (opening !== undefined) {
        await (await opening).send(message);
      } else {
        opening = open(message);
        try {
          remote = await opening;
        } finally {
          opening = undefined;
        }
      }
    } catch (err) {
      log(`could not deliver ${describe(message)} to ${options.serverUrl}: ${errorText(err)}`);
      if (isJSONRPCRequest(message)) {
        initializeIds.delete(message.id);
        const data = (isAuthdError(err, 'needs_login') || isAuthdError(err, 'denied')) && typeof err.data?.['command'] === 'string' ? { data: err.data } : {};
        toLocal({ jsonrpc: '2.0', id: message.id, error: { code: PROXY_ERROR_CODE, message: `mcpauthd proxy: ${errorText(err)}`, ...data } });
      }
    }
  };

  return new Promise<number>((resolve) => {
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    const shutdown = async (): Promise<void> => {
      if (closing) return;
      closing = true;
      for (const signal of signals) process.off(signal, onSignal);
      stdin.off('end', onEnd);
      stdin.off('close', onEnd);
      // A connection still being opened may be waiting for a login approval that
      // will never come: do not wait for it. Closing the daemon client (the
      // caller's job, once this resolves) cancels that login.
      void opening?.then((late) => late.close()).catch(() => undefined);
      const transport = remote;
      if (transport instanceof StreamableHTTPClientTransport) {
        // Tell the server the session is over, but never hang on it.
        await Promise.race([transport.terminateSession().catch(() => undefined), delay(SESSION_END_TIMEOUT_MS)]);
      }
      await transport?.close().catch(() => undefined);
      await local.close();
      resolve(0);
    };
    const onEnd = (): void => void shutdown();
    const onSignal = (): void => void shutdown();
    local.onmessage = (message) => void toRemote(message);
    local.onerror = (err) => log(`ignoring a message from the client: ${errorText(err)}`);
    stdin.once('end', onEnd);
    stdin.once('close', onEnd);
    for (const signal of signals) process.once(signal, onSignal);
    void local.start();
  });
}

function meansNoStreamableHttp(err: unknown): boolean {
  if (!(err instanceof StreamableHTTPError) || typeof err.code !== 'number') return false;
  // Auth, timeouts and throttling are answers from a server that does speak it.
  return err.code >= 400 && err.code < 500 && ![401, 403, 408, 429].includes(err.code);
}

function describe(message: JSONRPCMessage): string {
  if ('method' in message) return `"${message.method}"`;
  return 'a response';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// Anything a dependency prints with console.log would land in the middle of
// the protocol stream and break the client: send it to stderr instead.
function keepStdoutForProtocol(): void {
  const toStderr = (...args: unknown[]): void => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}
