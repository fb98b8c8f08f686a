/**
 * The `mcpauthd` commands that obtain credentials: `login` (browser, device,
 * fixed redirect, machine grants, enterprise IdP) and `idp`. Help texts and
 * options only; login-command.ts and idp-command.ts are imported when they run
 * (start-up time, client/cli/main.ts).
 */
import { COMMON, onePositional, type Command } from '../cli-core.js';

export const LOGIN_COMMANDS: Record<'login' | 'idp', Command> = {
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
      return (await import('../login-command.js')).runLogin(values, serverUrl);
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
      timeout: { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run(values, positionals) {
      return (await import('../idp-command.js')).runIdp(values, positionals);
    },
  },
};
