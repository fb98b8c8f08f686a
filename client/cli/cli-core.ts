/**
 * What every `mcpauthd` command shares (exit statuses, options, help, error
 * reporting, argument helpers) and the two commands that scripts and headers
 * helpers run per request: `token` and `status`.
 *
 * This module is compiled twice: as ESM with the rest (client/cli.ts imports
 * it) and as CommonJS into dist/cjs (tsconfig.cjs.json), which client/bin.cts
 * loads for `token` and `status`. CommonJS loads synchronously; Node's ESM
 * loader reads every module through its thread pool, which on a busy machine
 * costs more than the work (docs/benchmarks.md). So: no import.meta, no
 * top-level await here or in anything it imports.
 */
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import { ArgsError, parseCommandArgs, type Options } from './args.js';
import { needsLogin } from './needs-login.js';
// Loaded inside the commands that use them: --help needs none of it.
import type { McpAuthdClient } from '../authd-client.js';

/** Documented exit statuses (README "Exit codes"). */
export const EXIT = { ok: 0, error: 1, usage: 2, daemonUnavailable: 3, needsLogin: 4 } as const;

export class UsageError extends Error {}

export type { Options } from './args.js';

export const COMMON: Options = {
  home: { type: 'string' },
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export interface Command {
  summary: string;
  usage: string;
  details: string;
  options: Options;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export const COMMON_HELP = `  --home DIR       state directory (env MCPAUTHD_HOME)
  --socket PATH    daemon socket (env MCPAUTHD_SOCKET)
  -h, --help       show this help`;

/** The commands run per request, served by the CommonJS fast path (client/bin.cts). */
export const HOT_COMMANDS: Record<'status' | 'token', Command> = {
  status: {
    summary: 'show the daemon and every credential (never a token)',
    usage: 'mcpauthd status [--json]',
    details: `Shows the daemon (pid, version, uptime, socket, database) and one row per
credential: MCP server, scopes, expiry, last and next refresh, state and the last error,
each identity provider session (mcpauthd idp login) with the credentials that use it,
then the login command for each credential that needs one. Colour on a
terminal unless NO_COLOR is set. Exit status 4 when a credential needs a new
login (its refresh token was rejected, or it expired without one).

  --json           print {"daemon": {...}, "credentials": [...]} for scripts
                   (the protocol's status result, docs/protocol.md), with
                   "idp_sessions" when you signed in to an identity provider`,
    options: { ...COMMON, json: { type: 'boolean' } },
    async run(values) {
      const status = await withClient(values, (c) => c.status(), { leaveToExit: true });
      if (values['json'] === true) {
        process.stdout.write(`${JSON.stringify({ daemon: status.daemon, credentials: status.credentials, ...(status.idp_sessions === undefined ? {} : { idp_sessions: status.idp_sessions }) }, null, 2)}\n`);
      } else {
        // The table's code is loaded only for the table: scripts run --json per request.
        const [{ formatStatus }, { shouldUseColor }] = await Promise.all([import('./status-format.js'), import('./terminal-color.js')]);
        process.stdout.write(formatStatus(status, { nowMs: Date.now(), color: shouldUseColor(process.stdout, process.env) }));
      }
      return status.credentials.some(needsLogin) ? EXIT.needsLogin : EXIT.ok;
    },
  },
  token: {
    summary: 'print an access token for an MCP server or resource',
    usage: 'mcpauthd token <server-url|resource> [--scope "a b"] [--min-ttl SEC] [--resource] [--header] [--json]',
    details: `Prints the access token alone on stdout, for exactly that MCP server URL or
resource (never a prefix or "closest" match). The daemon refreshes it first when
it expires within --min-ttl seconds.

  --scope "a b"    scopes the token must carry (each must have been granted)
  --min-ttl SEC    the token must stay valid for at least SEC seconds
  --resource       match the argument as a resource identifier only
  --header         print the whole header line: Authorization: Bearer <token>
                   (refused for a DPoP-bound credential: each request needs its own
                   proof, so use \`mcpauthd proxy\` or the client library instead)
  --json           print {"access_token", "token_type", "expires_at", "resource", "scopes"};
                   with --header, {"Authorization": "Bearer <token>"} (a headers helper's format)

Examples:
  curl -H "Authorization: Bearer $(mcpauthd token https://mcp.example.com/mcp)" ...
  curl -H "$(mcpauthd token --header https://mcp.example.com/mcp)" ...`,
    options: {
      ...COMMON,
      scope: { type: 'string' },
      'min-ttl': { type: 'string' },
      resource: { type: 'boolean' },
      header: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run(values, positionals) {
      const target = onePositional(positionals, 'server-url|resource');
      const minTtl = values['min-ttl'] === undefined ? undefined : parseSeconds(String(values['min-ttl']), '--min-ttl');
      const scopes = values['scope'] === undefined ? undefined : splitScopes(String(values['scope']));
      const result = await withClient(values, (c) => {
        const call = c.getToken(target, { ...(scopes === undefined ? {} : { scopes }), ...(minTtl === undefined ? {} : { minTtl }), byResource: values['resource'] === true });
        // Only a min-ttl may wait on a refresh; the plain call stays on the fast path.
        return minTtl === undefined ? call : waitNotice(call);
      }, { leaveToExit: true });
      const json = values['json'] === true;
      if (values['header'] === true && result.token_type === 'DPoP') {
        // RFC 9449: a bound token is worthless without a fresh proof per request, which a printed header cannot carry.
        throw new AuthdError(
          'USAGE',
          `the credential for ${result.resource} is DPoP-bound: every request needs its own proof, which a printed header cannot carry; use \`mcpauthd proxy ${target}\` (or the client library's createAuthorizedFetch) instead of --header`,
        );
      }
      const header = `Bearer ${result.access_token}`;
      if (values['header'] === true) process.stdout.write(json ? `${JSON.stringify({ Authorization: header })}\n` : `Authorization: ${header}\n`);
      else process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${result.access_token}\n`);
      return EXIT.ok;
    },
  },
};

export function commandHelp(name: string, cmd: Command): string {
  return `Usage: ${cmd.usage}\n\n${cmd.details}\n\nCommon options:\n${COMMON_HELP}\n`.replace(/^Usage: /, name === 'daemon' ? 'Usage: ' : 'Usage: ');
}

/**
 * Parses `rest` for `cmd`, prints its help or runs it, and turns an error
 * into its message and exit status.
 */
export async function runCommand(name: string, cmd: Command, rest: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandArgs(rest, cmd.options);
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    process.stderr.write(`mcpauthd ${name}: ${err.message}\n\nUsage: ${cmd.usage}\n`);
    return EXIT.usage;
  }
  if (parsed.values['help'] === true) {
    process.stdout.write(commandHelp(name, cmd));
    return EXIT.ok;
  }
  try {
    return await cmd.run(parsed.values, parsed.positionals);
  } catch (err) {
    return reportError(name, cmd, err);
  }
}

export function reportError(name: string, cmd: Command, err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`mcpauthd ${name}: ${err.message}\n\nUsage: ${cmd.usage}\n`);
    return EXIT.usage;
  }
  if (isAuthdError(err)) {
    process.stderr.write(`mcpauthd ${name}: ${err.message}\n`);
    switch (err.code) {
      case 'DAEMON_UNAVAILABLE':
      case 'DAEMON_TIMEOUT':
        return EXIT.daemonUnavailable;
      case 'needs_login':
      case 'not_found':
      case 'expired':
        return EXIT.needsLogin;
      case 'USAGE':
      case 'invalid_request':
        return EXIT.usage;
      default:
        return EXIT.error;
    }
  }
  process.stderr.write(`mcpauthd ${name}: ${(err as Error).message ?? String(err)}\n`);
  return EXIT.error;
}

/** Says on stderr that a slow refresh is being waited for (client/wait-notice.ts). */
export async function waitNotice<T>(work: Promise<T>): Promise<T> {
  // Handled here while the module loads; withWaitNotice passes the outcome on.
  work.catch(() => undefined);
  return (await import('./wait-notice.js')).withWaitNotice(work, process.stderr);
}

/**
 * Runs `fn` with a client of the daemon the options name, then closes it.
 * `leaveToExit`: do not close, the process is about to exit and the kernel
 * closes the socket then. For the per-request commands: closing it here cost
 * 0.4-0.9 ms of a ~60 ms `mcpauthd token` (docs/benchmarks.md), and an idle
 * connection never holds the process (client/connection.ts unrefs it).
 */
export async function withClient<T>(values: Record<string, string | boolean | undefined>, fn: (client: McpAuthdClient) => Promise<T>, options: { leaveToExit?: boolean } = {}): Promise<T> {
  const { McpAuthdClient } = await import('../authd-client.js');
  const client = new McpAuthdClient({ ...optional('home', str(values['home'])), ...optional('socket', str(values['socket'])) });
  let done = false;
  try {
    const result = await fn(client);
    done = true;
    return result;
  } finally {
    // On an error the client is closed as ever: a request may still be in flight.
    if (!done || options.leaveToExit !== true) client.close();
  }
}

// ---------------------------------------------------------------- argument helpers


export function str(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? `missing <${what}>` : `expected one <${what}>, got ${positionals.length} arguments`);
  return positionals[0] as string;
}

export function parseSeconds(value: string, flag: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`${flag} takes a whole number of seconds, got ${JSON.stringify(value)}`);
  return Number.parseInt(value, 10);
}

export function splitScopes(value: string): string[] {
  const scopes = value.split(/\s+/).filter((s) => s !== '');
  if (scopes.length === 0) throw new UsageError('--scope needs at least one scope');
  return scopes;
}
