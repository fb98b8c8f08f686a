/**
 * `mcpauthd proxy`: checks its flags, then hands the daemon client to the stdio
 * proxy. `loadProxy` is main.ts's lazy import of client/cli/proxy.ts (it pulls
 * in the MCP SDK, which `mcpauthd token` must not pay for), called only after
 * the flags are checked.
 */
import { UsageError, onePositional, parseSeconds, splitScopes, withClient } from './cli-core.js';

export async function runProxyCommand(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
  loadProxy: () => Promise<typeof import('./proxy.js')>,
): Promise<number> {
  const serverUrl = onePositional(positionals, 'mcp-server-url');
  const loginWait = values['login-wait'] === undefined ? undefined : parseSeconds(String(values['login-wait']), '--login-wait');
  if (!/^https?:\/\/[^/]/i.test(serverUrl)) throw new UsageError(`expected an http(s) URL, got ${JSON.stringify(serverUrl)}`);
  const timeout = values['timeout'] === undefined ? undefined : parseSeconds(String(values['timeout']), '--timeout');
  const insecure = values['insecure-loopback'] === true || process.env['MCPAUTHD_INSECURE_LOOPBACK'] === '1';
  const { runProxy } = await loadProxy();
  return withClient(values, (client) =>
    runProxy({
      serverUrl,
      client,
      openBrowser: values['no-browser'] !== true,
      ...(loginWait === undefined ? {} : { loginWaitMs: loginWait * 1000 }),
      login: {
        ...(values['scope'] === undefined ? {} : { scopes: splitScopes(String(values['scope'])) }),
        ...(insecure ? { insecure_loopback: true } : {}),
        ...(timeout === undefined ? {} : { timeout }),
      },
    }),
  );
}
