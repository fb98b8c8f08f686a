/**
 * `mcpauthd idp login <issuer>`: a session at a company identity provider
 * (enterprise-managed authorization). Secrets (client secret, an ID token
 * brought along) come from files or stdin, never argv. Progress on stderr,
 * the result on stdout. Loaded only when `idp` runs (client/cli/main.ts).
 */
import { readFileSync } from 'node:fs';
import type { IdpLoginResult, LoginProgress } from '../../shared/protocol/login-types.js';
import { EXIT, UsageError, optional, parseSeconds, splitScopes, str } from './cli-core.js';

export async function runIdp(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number> {
  const [sub, issuer, ...extra] = positionals;
  if (sub !== 'login') throw new UsageError(sub === undefined ? 'say what to do: mcpauthd idp login <issuer>' : `unknown idp command "${sub}"; try: mcpauthd idp login <issuer>`);
  if (issuer === undefined || extra.length > 0) throw new UsageError('give exactly one issuer: mcpauthd idp login <issuer>');
  const clientId = str(values['client-id']);
  if (clientId === undefined) throw new UsageError('--client-id is required: the client your IdP registered for mcpauthd');
  if (values['client-secret-file'] !== undefined && values['client-secret-stdin'] === true) {
    throw new UsageError('use either --client-secret-file or --client-secret-stdin, not both');
  }
  const clientSecret = await secretInput(values, 'client-secret', 'the client secret');
  const idToken = typeof values['id-token-file'] === 'string' ? readSecretFile(values['id-token-file'], 'the ID token') : undefined;
  const timeout = values['timeout'] === undefined ? undefined : parseSeconds(String(values['timeout']), '--timeout');
  const insecure = values['insecure-loopback'] === true || process.env['MCPAUTHD_INSECURE_LOOPBACK'] === '1';
  const [{ McpAuthdClient }, { openBrowser }, { createInterface }] = await Promise.all([
    import('../authd-client.js'),
    import('./open-browser.js'),
    import('node:readline'),
  ]);
  const client = new McpAuthdClient({ ...optional('home', str(values['home'])), ...optional('socket', str(values['socket'])) });
  let pasteReader: ReturnType<typeof createInterface> | undefined;
  try {
    const result = await client.idpLogin(
      {
        issuer,
        client_id: clientId,
        ...optional('client_secret', clientSecret),
        ...optional('id_token', idToken),
        ...(values['scope'] === undefined ? {} : { scopes: splitScopes(String(values['scope'])) }),
        ...(insecure ? { insecure_loopback: true } : {}),
        ...(timeout === undefined ? {} : { timeout }),
      },
      (progress: LoginProgress) => {
        if (progress.stage !== 'authorize_url' || progress.authorize_url === undefined) return;
        if (values['no-browser'] !== true && progress.start_url !== undefined) {
          say(`sign in to ${issuer} at this URL (your browser is being opened at it; it works once):\n\n  ${progress.start_url}\n`);
          openBrowser(progress.start_url, say);
        } else {
          say(`sign in to ${issuer} at this URL:\n\n  ${progress.authorize_url}\n`);
          say('(or paste the URL your browser ended on here, then press Enter)');
          pasteReader = createInterface({ input: process.stdin });
          pasteReader.on('line', (line) => {
            const url = line.trim();
            if (url !== '') client.submitCallback(progress.login_id, url).catch((err: unknown) => say(`that URL was not accepted: ${(err as Error).message}`));
          });
        }
        say('waiting for you to sign in...');
      },
    );
    process.stdout.write(values['json'] === true ? `${JSON.stringify(result)}\n` : describe(result));
    return EXIT.ok;
  } finally {
    pasteReader?.close();
    client.close();
  }
}

function describe(result: IdpLoginResult): string {
  const expires = result.id_token_expires_at === null ? 'unknown' : new Date(result.id_token_expires_at * 1000).toISOString();
  return `signed in to the identity provider\n  issuer    ${result.issuer}\n  subject   ${result.subject ?? 'unknown'}\n  expires   ${expires}\n  refresh   ${result.has_refresh_token ? 'yes' : 'no refresh token: sign in again when it expires'}\nnext: mcpauthd login <mcp-server-url> --idp ${result.issuer}\n`;
}

async function secretInput(values: Record<string, string | boolean | undefined>, flag: string, what: string): Promise<string | undefined> {
  if (typeof values[`${flag}-file`] === 'string') return readSecretFile(values[`${flag}-file`] as string, what);
  if (values[`${flag}-stdin`] !== true) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks).toString('utf8').trim();
  if (value === '') throw new UsageError(`${what} is empty`);
  return value;
}

function readSecretFile(path: string, what: string): string {
  const value = readFileSync(path, 'utf8').trim();
  if (value === '') throw new UsageError(`${what} in ${path} is empty`);
  return value;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}
