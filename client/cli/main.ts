#!/usr/bin/env node
/**
 * The `mcpauthd` command: argv → client API → stdout and an exit status.
 * Commands that only talk to the daemon load no OAuth or database code; the
 * daemon itself is imported only by `mcpauthd daemon`, and each command's
 * module (login-command.ts, credential-commands.ts, proxy-command.ts,
 * service-commands.ts) only by that command. This file holds the argv →
 * command table, help and exit codes.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AuthdError } from '../../shared/errors.js';
// Everything else is imported inside the command that uses it: start-up time
// is what a `token` call in a shell pipeline or a headers helper pays for on
// every use (docs/benchmarks.md), and --version and --help need none of it.
// `token` and `status` live in cli-core.ts, which client/cli/bin.cts also loads as CommonJS.
import {
  COMMON,
  EXIT,
  HOT_COMMANDS,
  commandHelp,
  onePositional,
  runCommand,
  str,
  type Command,
} from './cli-core.js';

export { EXIT } from './cli-core.js';

const COMMANDS: Record<string, Command> = {
  daemon: {
    summary: 'run the daemon in the foreground',
    usage: `mcpauthd daemon [--home DIR] [--socket PATH] [--log-level LEVEL] [--log-format json|text] [--log-file PATH]
               [--audit-days N] [--audit-rows N] [--no-audit] [--allow-no-peer-check]`,
    details: `Runs the credential daemon in the foreground (systemd and launchd supervise it;
it never forks). Logs to stderr (secrets redacted); prints one "mcpauthd ready" line on
stdout once the socket accepts connections. SIGTERM or SIGINT stops it cleanly.
Exits non-zero when it cannot start, so a supervisor's restart policy applies.

  --log-level L    error, warn, info (default) or debug (env MCPAUTHD_LOG_LEVEL);
                   change it later with: mcpauthd log-level L
  --log-format F   json (one object per line) or text (time level message key=value);
                   default text when stderr is a terminal, else json (env MCPAUTHD_LOG_FORMAT).
                   Times in fields are Unix seconds, as in status --json
  --log-file PATH  also log to PATH (0600, rotated at 10 MiB, 5 files kept); its
                   directory must be yours and 0700, e.g. <state dir>/logs/daemon.log
  --audit-days N   keep audit events (mcpauthd audit) N days (default 90)
  --audit-rows N   keep at most the newest N audit events (default 100000)
  --no-audit       record no audit events (policy still applies)
  --allow-no-peer-check
                   start even when the check of who connects (SO_PEERCRED on
                   Linux, getpeereid on macOS) cannot be loaded; without it the
                   daemon refuses, because only the 0700 socket directory would
                   then keep other users out (docs/security.md)

Secrets in the database are encrypted; the key comes from the OS keychain, else
from a key file, MCPAUTHD_CONFIG_DIR/database.key (default ~/.config/mcpauthd,
0600), made at the first start. MCPAUTHD_KEY_PROVIDER=auto|keychain|key_file
picks one for a new database; an encrypted one always uses the provider that
encrypted it. mcpauthd status shows which, mcpauthd doctor what it protects against.`,
    options: { ...COMMON, 'log-level': { type: 'string' }, 'log-format': { type: 'string' }, 'log-file': { type: 'string' }, 'allow-no-peer-check': { type: 'boolean' }, 'audit-days': { type: 'string' }, 'audit-rows': { type: 'string' }, 'no-audit': { type: 'boolean' } },
    async run(values) {
      const { runDaemonCommand } = await import('../../daemon/main.js');
      return runDaemonCommand({
        home: str(values['home']),
        socket: str(values['socket']),
        logLevel: str(values['log-level']),
        logFormat: str(values['log-format']),
        logFile: str(values['log-file']),
        allowNoPeerCheck: values['allow-no-peer-check'] === true,
        auditDays: str(values['audit-days']),
        auditRows: str(values['audit-rows']),
        noAudit: values['no-audit'] === true,
      });
    },
  },
  status: HOT_COMMANDS.status,
  token: HOT_COMMANDS.token,
  refresh: {
    summary: 'refresh a credential now and show its new expiry',
    usage: 'mcpauthd refresh <server-url|resource> [--json]',
    details: `Refreshes the credential now (the daemon also does this by itself before
expiry). If a refresh for it is already running, waits for that one instead of
presenting the refresh token twice. Waits as long as the daemon may for a slow
authorization server (140 s), saying so on stderr after 2 s.

  --json           print {"resource", "expires_at", "scopes"}`,
    options: { ...COMMON, json: { type: 'boolean' } },
    async run(values, positionals) {
      return (await import('./credential-commands.js')).runRefresh(values, positionals);
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
      return (await import('./credential-commands.js')).runLogout(values, positionals);
    },
  },
  login: {
    summary: 'log into an MCP server (OAuth, in a browser here or elsewhere)',
    usage: `mcpauthd login <mcp-server-url> [--scope "a b"] [--client-id ID]
               [--client-secret-file FILE | --client-secret-stdin] [--client-metadata-url URL]
               [--resource URI] [--device | --redirect-uri URI|PORT] [--no-browser]
               [--timeout SEC] [--insecure-loopback] [--json] [--idp ISSUER]
       mcpauthd login <mcp-server-url> --client-credentials --client-id ID
               [--client-auth private_key_jwt|client_secret_basic] [--client-key-file FILE]
               [--jwks-out FILE] [--client-secret-file FILE | --client-secret-stdin]
       mcpauthd login <mcp-server-url> --jwt-bearer --client-id ID --assertion-file FILE`,
    details: `Asks the daemon to log into the MCP server the spec way: protected resource
metadata, authorization server metadata, client registration, PKCE, a loopback
redirect, and the server's resource indicator on every request. Opens the
authorize URL with $BROWSER (the URL as its last argument), else open/xdg-open.
Without a display (over SSH, no DISPLAY/WAYLAND_DISPLAY, no macOS GUI session)
it uses the device login when the server offers it, else prints the URL.

  --scope "a b"             scopes to request instead of the discovered ones
  --client-id ID            use a pre-registered client
  --client-secret-file F    read its secret from a file (never from argv)
  --client-secret-stdin     read its secret from standard input
  --client-metadata-url U   use a Client ID Metadata Document URL as client_id
  --resource URI            resource to use for servers WITHOUT protected resource metadata
  --idp ISSUER              no browser: use your session at this company identity
                            provider ("mcpauthd idp login ISSUER" first); the
                            server's AS must accept ID-JAGs (enterprise-managed
                            authorization); give --client-id once
  --device                  device login (RFC 8628): enter a short code on any
                            device's browser; no redirect to this machine needed
  --redirect-uri URI|PORT   a fixed redirect http://127.0.0.1:PORT/path (or
                            localhost, or just PORT) for a client registered with
                            exactly that URI; kept for later logins
  --no-browser              only print the URL (and, with a fixed port, the
                            ssh -L line that forwards it); or paste the final
                            redirect URL here
  --timeout SEC             how long to wait for approval (default 300)
  --insecure-loopback       allow plain http to 127.0.0.1/localhost (testing only;
                            env MCPAUTHD_INSECURE_LOOPBACK=1)
  --json                    print the result as one JSON object

Machines without a person (no browser; the daemon runs the grant again before
the token expires, there is no refresh token):
  --client-credentials      OAuth client credentials grant for client --client-id
  --client-auth M           private_key_jwt (default without a secret) or
                            client_secret_basic (default with a secret)
  --client-key-file F       private_key_jwt with a key already registered (PEM or
                            JWK); without it the daemon keeps its own key for this
                            client, made on first use: register the public key it
                            prints, then run the same command again
  --jwks-out F              also write that public key as a JWKS file
  --jwt-bearer              RFC 7523 jwt-bearer grant with a token the platform
                            gives this machine (workload identity)
  --assertion-file F        where that token is; read again at every renewal

Examples:
  mcpauthd login https://mcp.example.com/mcp
  mcpauthd login https://mcp.example.com/mcp --scope "mcp:tools" --no-browser
  mcpauthd login https://mcp.example.com/mcp --client-credentials --client-id ci-bot --jwks-out bot.jwks.json
  mcpauthd login https://mcp.example.com/mcp --jwt-bearer --client-id wl --assertion-file /var/run/secrets/token
  mcpauthd login https://mcp.example.com/mcp --device
  mcpauthd login https://mcp.example.com/mcp --client-id app --redirect-uri 8765 --no-browser`,
    options: {
      ...COMMON,
      scope: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      'client-secret-stdin': { type: 'boolean' },
      'client-metadata-url': { type: 'string' },
      resource: { type: 'string' },
      idp: { type: 'string' },
      'no-browser': { type: 'boolean' },
      device: { type: 'boolean' },
      'redirect-uri': { type: 'string' },
      timeout: { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
      json: { type: 'boolean' },
      'client-credentials': { type: 'boolean' },
      'jwt-bearer': { type: 'boolean' },
      'client-auth': { type: 'string' },
      'client-key-file': { type: 'string' },
      'jwks-out': { type: 'string' },
      'assertion-file': { type: 'string' },
    },
    async run(values, positionals) {
      const serverUrl = onePositional(positionals, 'mcp-server-url');
      return (await import('./login-command.js')).runLogin(values, serverUrl);
    },
  },
  idp: {
    summary: 'sign in once to a company identity provider (enterprise-managed authorization)',
    usage: `mcpauthd idp login <issuer> --client-id ID [--client-secret-file FILE | --client-secret-stdin]
               [--id-token-file FILE] [--scope "a b"] [--no-browser] [--timeout SEC]
               [--insecure-loopback] [--json]`,
    details: `Signs the daemon in to your company's OpenID Connect identity provider, in the
browser (authorization code with PKCE), and keeps the ID token and its refresh
token. Afterwards "mcpauthd login <url> --idp <issuer>" logs in to MCP servers
whose authorization server accepts it without a browser: the daemon exchanges
the ID token for an ID-JAG at the IdP (RFC 8693) and that for a token at the
server's authorization server (RFC 7523). "mcpauthd status" shows the session
and the credentials that depend on it.

  --client-id ID            mcpauthd's client at the IdP (your IdP admin registers it)
  --client-secret-file F    read its secret from a file (never from argv)
  --client-secret-stdin     read its secret from standard input
  --id-token-file F         keep an ID token obtained elsewhere instead of a browser login
  --scope "a b"             scopes besides openid (offline_access is added when offered)
  --no-browser              only print the URL; paste the final redirect URL here
  --timeout SEC             how long to wait for approval (default 300)
  --insecure-loopback       allow plain http to 127.0.0.1/localhost (testing only)
  --json                    print the result as one JSON object

Example:
  mcpauthd idp login https://login.example.com --client-id mcpauthd
  mcpauthd login https://mcp.example.com/mcp --idp https://login.example.com --client-id mcp-client`,
    options: {
      ...COMMON,
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      'client-secret-stdin': { type: 'boolean' },
      'id-token-file': { type: 'string' },
      scope: { type: 'string' },
      'no-browser': { type: 'boolean' },
      device: { type: 'boolean' },
      'redirect-uri': { type: 'string' },
      timeout: { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run(values, positionals) {
      return (await import('./idp-command.js')).runIdp(values, positionals);
    },
  },
  proxy: {
    summary: 'serve a remote MCP server on stdio, with the daemon\'s token',
    usage: `mcpauthd proxy <mcp-server-url> [--scope "a b"] [--no-browser] [--timeout SEC]
               [--login-wait SEC] [--insecure-loopback]`,
    details: `A stdio MCP server for clients that can only start local servers: every
message is forwarded to the remote server (Streamable HTTP, or the old HTTP+SSE
transport for servers that only speak that) with the daemon's access token.
A rejected token is refreshed through the daemon; when a login is needed the
authorize URL is printed on stderr and opened like "mcpauthd login" does.
stdout carries protocol messages only; diagnostics go to stderr. Exits when
stdin closes.

  --scope "a b"           scopes to ask for if a login is needed
  --no-browser            print the authorize URL but do not open a browser
  --timeout SEC           how long a login waits for approval (default 300)
  --login-wait SEC        how long a request waits for that approval before the
                          client gets an error naming "mcpauthd login <url>"
                          (default 45: inside MCP clients' usual 60 s timeout)
  --insecure-loopback     allow plain http to 127.0.0.1/localhost (testing only;
                          env MCPAUTHD_INSECURE_LOOPBACK=1)

Example (Codex CLI, ~/.codex/config.toml):
  [mcp_servers.example]
  command = "mcpauthd"
  args = ["proxy", "https://mcp.example.com/mcp"]`,
    options: {
      ...COMMON,
      scope: { type: 'string' },
      'no-browser': { type: 'boolean' },
      timeout: { type: 'string' },
      'login-wait': { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
    },
    async run(values, positionals) {
      // Loaded here, not at the top: it pulls in the MCP SDK, which `mcpauthd token` must not pay for.
      return (await import('./proxy-command.js')).runProxyCommand(values, positionals, () => import('./proxy.js'));
    },
  },
  audit: {
    summary: 'show which program was served which credential, newest first',
    usage: 'mcpauthd audit [--resource R] [--program P] [--since 1h] [--limit N] [--json]',
    details: `Every token request, DPoP proof, login, refresh (with its trigger), logout and
refused request the daemon answered, with the program behind it: its executable,
the script for interpreters (node, python, ...), and for mcpauthd's own commands
(proxy, token) the program that started them. Never a token.

  --resource R     only this credential (an MCP server URL or a resource)
  --program P      only this program, exactly as shown in the PROGRAM column
  --since D        only the last D: 90s, 15m, 1h, 7d, 2w
  --limit N        at most N events (default 200, at most 2000)
  --json           print {"events": [{at (Unix ms), method, resource, program, pid,
                   chain, outcome, error_code, detail}], "truncated"}`,
    options: { ...COMMON, resource: { type: 'string' }, program: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    async run(values, positionals) {
      return (await import('./audit-command.js')).runAudit(values, positionals);
    },
  },
  policy: {
    summary: 'decide which programs may use a credential (allow, confirm, deny)',
    usage: `mcpauthd policy show [--json]
       mcpauthd policy set <server-url|resource> allow|confirm|deny
       mcpauthd policy allow <server-url|resource> <program> [--for 30d]
       mcpauthd policy revoke <server-url|resource> <program>`,
    details: `Per resource: allow (the default: every program of yours), confirm (a program
not yet approved is asked about; a yes lasts 30 days) or deny (only programs
allowed here). A program is named exactly as "mcpauthd audit" shows it: an
executable path, or an interpreter and its script (quote it).

Asking uses MCPAUTHD_ASKPASS (an ssh-askpass-style program: the question is its
argument, exit 0 = yes) from the daemon's environment; else, with a display,
SSH_ASKPASS, ssh-askpass, zenity or kdialog; osascript on macOS. No helper, no
display or no answer within 30 s refuses the request with the error "denied".
Same-user programs are still trusted by the threat model: this is for seeing
and deciding, not a sandbox (docs/security.md).

  --for D          allow: for D (90s, 15m, 1h, 7d, 2w) instead of until revoked
  --json           print the policy as JSON`,
    options: { ...COMMON, for: { type: 'string' }, json: { type: 'boolean' } },
    async run(values, positionals) {
      return (await import('./policy-command.js')).runPolicy(values, positionals);
    },
  },
  'install-service': {
    summary: 'run the daemon as a systemd user service or a LaunchAgent',
    usage: 'mcpauthd install-service [--print | --uninstall] [--home DIR] [--socket PATH]',
    details: `Linux: writes ~/.config/systemd/user/mcpauthd.service (sandboxed, restarted on
failure, no core dumps), then runs systemctl --user daemon-reload and
enable --now; without systemctl it prints those commands. macOS: writes
~/Library/LaunchAgents/io.github.mcpauthd.mcpauthd.plist and bootstraps it into
gui/<uid>. The unit runs this node and this CLI with the state directory and
socket pinned. Running it again is safe: it updates and restarts only on change.

  --print          write the unit to stdout; change nothing
  --uninstall      stop, disable and remove the service`,
    options: { ...COMMON, print: { type: 'boolean' }, uninstall: { type: 'boolean' } },
    async run(values) {
      return (await import('./service-commands.js')).runInstallService(values, cliPath());
    },
  },
  doctor: {
    summary: "check this machine's mcpauthd set-up and say how to fix problems",
    usage: 'mcpauthd doctor [--json]',
    details: `Checks the Node.js version (warns on one past its end of life or not supported),
the state and socket directories and the database (owner-only), that the
daemon answers and runs this CLI's version, the service (installed, enabled, up
to date), the clock, every credential's state, and that each authorization
server's metadata can be fetched (5 s timeout). Prints the fix for each problem.
Exit status 1 when a check fails; warnings alone exit 0.

  --json           print {"version", "ok", "checks": [{id, subject?, status, message, fix?}]}`,
    options: { ...COMMON, json: { type: 'boolean' } },
    async run(values) {
      return (await import('./service-commands.js')).runDoctorCommand(values, cliPath());
    },
  },
  'log-level': {
    summary: "change the running daemon's log level without a restart",
    usage: 'mcpauthd log-level <error|warn|info|debug>',
    details: `Sets the log level of the running daemon (stderr and --log-file alike) until it
stops; the next start uses --log-level or MCPAUTHD_LOG_LEVEL again.`,
    options: { ...COMMON },
    async run(values, positionals) {
      return (await import('./service-commands.js')).runLogLevel(values, positionals);
    },
  },
};

function usageText(VERSION: string): string {
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

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const { VERSION } = await import('../../shared/version.js');
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic === undefined ? undefined : COMMANDS[topic];
    process.stdout.write(cmd === undefined ? usageText(VERSION) : commandHelp(topic as string, cmd));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    const { VERSION } = await import('../../shared/version.js');
    process.stdout.write(`mcpauthd ${VERSION}\n`);
    return EXIT.ok;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (cmd === undefined) {
    const { VERSION } = await import('../../shared/version.js');
    process.stderr.write(`mcpauthd: unknown command "${name}"\n\n${usageText(VERSION)}`);
    return EXIT.usage;
  }
  return runCommand(name, cmd, rest);
}

/** This file, symlinks resolved: what a service unit must run (npm's bin link may move). */
function cliPath(): string {
  return realpathSync(fileURLToPath(import.meta.url));
}

// Run when executed as a program (`node dist/client/cli/main.js`, the service
// unit), not when imported by tests or by client/bin.cts, which calls main().
function invokedAsProgram(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === cliPath();
  } catch {
    return false;
  }
}
if (invokedAsProgram()) {
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
