/**
 * The `mcpauthd` commands that use and govern credentials once they exist:
 * `refresh`, `logout`, `proxy`, `audit`, `policy`. Help texts and options only;
 * each command's code is imported when it runs (start-up time, client/cli/main.ts).
 */
import { COMMON, type Command } from '../cli-core.js';

export const CREDENTIAL_COMMANDS: Record<'refresh' | 'logout' | 'proxy' | 'audit' | 'policy', Command> = {
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
      return (await import('../credential-commands.js')).runRefresh(values, positionals);
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
      return (await import('../credential-commands.js')).runLogout(values, positionals);
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
      return (await import('../proxy-command.js')).runProxyCommand(values, positionals, () => import('../proxy.js'));
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
      return (await import('../audit-command.js')).runAudit(values, positionals);
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
      return (await import('../policy-command.js')).runPolicy(values, positionals);
    },
  },
};
