#!/usr/bin/env node
/**
 * The `mcpauthd` command: argv → client API → stdout and an exit status.
 * Commands that only talk to the daemon load no OAuth or database code; the
 * daemon itself is imported only by `mcpauthd daemon`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AuthdError, isAuthdError } from '../shared/errors.js';
import type { CredentialSummary, LoginProgress, StatusResult } from '../shared/protocol.js';
import { VERSION } from '../shared/version.js';
import { McpAuthdClient } from './index.js';

/** Documented exit statuses (README "Exit codes"). */
export const EXIT = { ok: 0, error: 1, usage: 2, daemonUnavailable: 3, needsLogin: 4 } as const;

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  home: { type: 'string' },
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

interface Command {
  summary: string;
  usage: string;
  details: string;
  options: Options;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

const COMMON_HELP = `  --home DIR       state directory (env MCPAUTHD_HOME)
  --socket PATH    daemon socket (env MCPAUTHD_SOCKET)
  -h, --help       show this help`;

const COMMANDS: Record<string, Command> = {
  daemon: {
    summary: 'run the daemon in the foreground',
    usage: 'mcpauthd daemon [--home DIR] [--socket PATH] [--log-level LEVEL]',
    details: `Runs the credential daemon in the foreground (systemd and launchd supervise it;
it never forks). Logs JSON lines to stderr; prints one "mcpauthd ready" line on
stdout once the socket accepts connections. SIGTERM or SIGINT stops it cleanly.

  --log-level L    error, warn, info (default) or debug (env MCPAUTHD_LOG_LEVEL)`,
    options: { ...COMMON, 'log-level': { type: 'string' } },
    async run(values) {
      const { runDaemonCommand } = await import('../daemon/main.js');
      return runDaemonCommand({ home: str(values['home']), socket: str(values['socket']), logLevel: str(values['log-level']) });
    },
  },
  status: {
    summary: 'show the daemon and every credential (never a token)',
    usage: 'mcpauthd status [--json]',
    details: `Shows the daemon (pid, version, socket, state directory) and one row per
credential: resource, MCP server, scopes, expiry, state, last refresh, last error.
Exit status 4 when a credential needs a new login.

  --json           print {"daemon": {...}, "credentials": [...]} for scripts`,
    options: { ...COMMON, json: { type: 'boolean' } },
    async run(values) {
      const status = await withClient(values, (c) => c.status());
      process.stdout.write(values['json'] === true ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status, Date.now()));
      return status.credentials.some((c) => c.state === 'needs_login') ? EXIT.needsLogin : EXIT.ok;
    },
  },
  token: {
    summary: 'print an access token for an MCP server or resource',
    usage: 'mcpauthd token <server-url|resource> [--scope "a b"] [--min-ttl SEC] [--resource]',
    details: `Prints the access token alone on stdout, for exactly that MCP server URL or
resource (never a prefix or "closest" match). The daemon refreshes it first when
it expires within --min-ttl seconds.

  --scope "a b"    scopes the token must carry (each must have been granted)
  --min-ttl SEC    the token must stay valid for at least SEC seconds
  --resource       match the argument as a resource identifier only

Example:
  curl -H "Authorization: Bearer $(mcpauthd token https://mcp.example.com/mcp)" ...`,
    options: { ...COMMON, scope: { type: 'string' }, 'min-ttl': { type: 'string' }, resource: { type: 'boolean' } },
    async run(values, positionals) {
      const target = onePositional(positionals, 'server-url|resource');
      const minTtl = values['min-ttl'] === undefined ? undefined : parseSeconds(String(values['min-ttl']), '--min-ttl');
      const scopes = values['scope'] === undefined ? undefined : splitScopes(String(values['scope']));
      const result = await withClient(values, (c) =>
        c.getToken(target, { ...(scopes === undefined ? {} : { scopes }), ...(minTtl === undefined ? {} : { minTtl }), byResource: values['resource'] === true }),
      );
      process.stdout.write(`${result.access_token}\n`);
      return EXIT.ok;
    },
  },
  logout: {
    summary: 'forget the credential of an MCP server or resource',
    usage: 'mcpauthd logout <server-url|resource> [--json]',
    details: `Revokes the tokens at the authorization server when it offers revocation, then
deletes the credential. The local credential is deleted even if revocation fails.

  --json           print the result as JSON`,
    options: { ...COMMON, json: { type: 'boolean' } },
    async run(values, positionals) {
      const target = onePositional(positionals, 'server-url|resource');
      const result = await withClient(values, (c) => c.logout(target));
      process.stdout.write(values['json'] === true ? `${JSON.stringify(result)}\n` : `logged out of ${result.resource ?? target}\n`);
      return EXIT.ok;
    },
  },
  login: {
    summary: 'log into an MCP server (OAuth, in your browser)',
    usage: `mcpauthd login <mcp-server-url> [--scope "a b"] [--client-id ID]
               [--client-secret-file FILE | --client-secret-stdin] [--client-metadata-url URL]
               [--resource URI] [--no-browser] [--timeout SEC] [--insecure-loopback] [--json]`,
    details: `Asks the daemon to log into the MCP server the spec way: protected resource
metadata, authorization server metadata, client registration, PKCE, a loopback
redirect, and the server's resource indicator on every request. Opens the
authorize URL with $BROWSER (the URL as its last argument), else open/xdg-open.

  --scope "a b"             scopes to request instead of the discovered ones
  --client-id ID            use a pre-registered client
  --client-secret-file F    read its secret from a file (never from argv)
  --client-secret-stdin     read its secret from standard input
  --client-metadata-url U   use a Client ID Metadata Document URL as client_id
  --resource URI            resource to use for servers WITHOUT protected resource metadata
  --no-browser              only print the URL; paste the final redirect URL here
  --timeout SEC             how long to wait for approval (default 300)
  --insecure-loopback       allow plain http to 127.0.0.1/localhost (testing only;
                            env MCPAUTHD_INSECURE_LOOPBACK=1)
  --json                    print the result as one JSON object

Examples:
  mcpauthd login https://mcp.example.com/mcp
  mcpauthd login https://mcp.example.com/mcp --scope "mcp:tools" --no-browser`,
    options: {
      ...COMMON,
      scope: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      'client-secret-stdin': { type: 'boolean' },
      'client-metadata-url': { type: 'string' },
      resource: { type: 'string' },
      'no-browser': { type: 'boolean' },
      timeout: { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run(values, positionals) {
      return runLogin(values, onePositional(positionals, 'mcp-server-url'));
    },
  },
};

function usageText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, cmd]) => `  ${name.padEnd(width)}  ${cmd.summary}`);
  return `mcpauthd ${VERSION}: one place for every MCP OAuth credential on this machine

Usage: mcpauthd <command> [options]

Commands:
${lines.join('\n')}

Run "mcpauthd <command> --help" for a command's options.

Exit status: 0 success, 1 error, 2 usage, 3 daemon not reachable, 4 a login is needed.
`;
}

function commandHelp(name: string, cmd: Command): string {
  return `Usage: ${cmd.usage}\n\n${cmd.details}\n\nCommon options:\n${COMMON_HELP}\n`.replace(/^Usage: /, name === 'daemon' ? 'Usage: ' : 'Usage: ');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic === undefined ? undefined : COMMANDS[topic];
    process.stdout.write(cmd === undefined ? usageText() : commandHelp(topic as string, cmd));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`mcpauthd ${VERSION}\n`);
    return EXIT.ok;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (cmd === undefined) {
    process.stderr.write(`mcpauthd: unknown command "${name}"\n\n${usageText()}`);
    return EXIT.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`mcpauthd ${name}: ${(err as Error).message}\n\nUsage: ${cmd.usage}\n`);
    return EXIT.usage;
  }
  if (parsed.values['help'] === true) {
    process.stdout.write(commandHelp(name, cmd));
    return EXIT.ok;
  }
  try {
    return await cmd.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
  } catch (err) {
    return reportError(name, cmd, err);
  }
}

function reportError(name: string, cmd: Command, err: unknown): number {
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

async function withClient<T>(values: Record<string, string | boolean | undefined>, fn: (client: McpAuthdClient) => Promise<T>): Promise<T> {
  const client = new McpAuthdClient({ ...optional('home', str(values['home'])), ...optional('socket', str(values['socket'])) });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- login

async function runLogin(values: Record<string, string | boolean | undefined>, serverUrl: string): Promise<number> {
  if (values['client-secret-file'] !== undefined && values['client-secret-stdin'] === true) {
    throw new UsageError('use either --client-secret-file or --client-secret-stdin, not both');
  }
  let clientSecret: string | undefined;
  if (typeof values['client-secret-file'] === 'string') clientSecret = readFileSync(values['client-secret-file'], 'utf8').trim();
  if (values['client-secret-stdin'] === true) clientSecret = (await readAllStdin()).trim();
  if (clientSecret !== undefined && clientSecret === '') throw new UsageError('the client secret is empty');
  if (clientSecret !== undefined && values['client-id'] === undefined) throw new UsageError('a client secret needs --client-id');
  const timeout = values['timeout'] === undefined ? undefined : parseSeconds(String(values['timeout']), '--timeout');
  const insecure = values['insecure-loopback'] === true || process.env['MCPAUTHD_INSECURE_LOOPBACK'] === '1';
  const json = values['json'] === true;
  const openBrowser = values['no-browser'] !== true;

  const client = new McpAuthdClient({ ...optional('home', str(values['home'])), ...optional('socket', str(values['socket'])) });
  let pasteReader: ReturnType<typeof createInterface> | undefined;
  try {
    const result = await client.login(
      {
        server_url: serverUrl,
        ...(values['scope'] === undefined ? {} : { scopes: splitScopes(String(values['scope'])) }),
        ...optional('client_id', str(values['client-id'])),
        ...optional('client_secret', clientSecret),
        ...optional('client_metadata_url', str(values['client-metadata-url'])),
        ...optional('resource', str(values['resource'])),
        ...(insecure ? { insecure_loopback: true } : {}),
        ...(timeout === undefined ? {} : { timeout }),
      },
      (progress: LoginProgress) => {
        if (progress.stage === 'discovered') say(`resource ${progress.resource ?? '?'} at ${progress.issuer ?? '?'}`);
        if (progress.stage === 'authorize_url' && progress.authorize_url !== undefined) {
          say(`open this URL to approve the login:\n\n  ${progress.authorize_url}\n`);
          if (openBrowser) launchBrowser(progress.authorize_url);
          else if (process.stdin.isTTY === true) {
            say('(or paste the URL your browser ended on here, then press Enter)');
            pasteReader = createInterface({ input: process.stdin });
            pasteReader.on('line', (line) => {
              const url = line.trim();
              if (url !== '') client.submitCallback(progress.login_id, url).catch((err: unknown) => say(`that URL was not accepted: ${(err as Error).message}`));
            });
          }
          say('waiting for approval in the browser...');
        }
        if (progress.stage === 'exchanging') say('approved; exchanging the code for tokens...');
      },
    );
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `logged in\n  resource  ${result.resource}\n  issuer    ${result.issuer}\n  scopes    ${result.scopes.join(' ') || '(none)'}\n  expires   ${result.expires_at === null ? 'unknown' : new Date(result.expires_at * 1000).toISOString()}\n  refresh   ${result.has_refresh_token ? 'yes' : 'no refresh token: you will log in again when it expires'}\n`,
      );
    }
    return EXIT.ok;
  } finally {
    pasteReader?.close();
    client.close();
  }
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** BROWSER (URL as its last argument), else open/xdg-open; a failure only means the user opens the URL by hand. */
function launchBrowser(url: string): void {
  const configured = process.env['BROWSER'];
  const [command, ...args] =
    configured !== undefined && configured.trim() !== ''
      ? [...configured.trim().split(/\s+/), url]
      : process.platform === 'darwin'
        ? ['open', url]
        : ['xdg-open', url];
  try {
    const child = spawn(command as string, args, { stdio: 'ignore', detached: true });
    child.on('error', () => say(`could not start ${command}; open the URL yourself`));
    child.unref();
  } catch {
    say(`could not start ${command}; open the URL yourself`);
  }
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// ---------------------------------------------------------------- status

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));

/** "in 41 min", "3 h ago": enough precision for a person. */
export function relativeTime(seconds: number | null, nowMs: number): string {
  if (seconds === null) return '-';
  const delta = seconds - Math.floor(nowMs / 1000);
  const abs = Math.abs(delta);
  const text = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : abs < 172_800 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86_400)} d`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

export function formatStatus(status: StatusResult, nowMs: number): string {
  const d = status.daemon;
  const head = `daemon  pid ${d.pid}  version ${d.version}  up since ${new Date(d.started_at * 1000).toISOString()}\n        socket ${d.socket}\n        home   ${d.home}\n`;
  if (status.credentials.length === 0) return `${head}\nno credentials yet; log in with: mcpauthd login <mcp-server-url>\n`;
  const rows = status.credentials.map((c: CredentialSummary) => [
    c.resource,
    c.server_urls.join(' '),
    c.scopes.join(' ') || '-',
    relativeTime(c.expires_at, nowMs),
    c.state,
    relativeTime(c.last_refresh_at, nowMs),
    c.last_error ?? '',
  ]);
  const headers = ['RESOURCE', 'SERVER', 'SCOPES', 'EXPIRES', 'STATE', 'LAST REFRESH', 'LAST ERROR'];
  const widths = headers.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => (r[i] as string).length))));
  const line = (cells: string[]) => cells.map((cell, i) => pad(cell, widths[i] as number)).join('  ').trimEnd();
  return `${head}\n${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

// ---------------------------------------------------------------- argument helpers

function str(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? `missing <${what}>` : `expected one <${what}>, got ${positionals.length} arguments`);
  return positionals[0] as string;
}

function parseSeconds(value: string, flag: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`${flag} takes a whole number of seconds, got ${JSON.stringify(value)}`);
  return Number.parseInt(value, 10);
}

function splitScopes(value: string): string[] {
  const scopes = value.split(/\s+/).filter((s) => s !== '');
  if (scopes.length === 0) throw new UsageError('--scope needs at least one scope');
  return scopes;
}

// Run when executed as a program (the bin), not when imported by tests.
const invokedAs = process.argv[1] ?? '';
if (/(^|[\\/])(cli\.js|mcpauthd)$/.test(invokedAs)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`mcpauthd: ${err instanceof AuthdError ? err.message : String(err)}\n`);
      process.exitCode = EXIT.error;
    },
  );
}
