/**
 * `mcpauthd login`: reads the client secret (file or stdin, never argv),
 * chooses how the person approves (issue 16 items 1-3: a browser here, the
 * device authorization grant, or a browser elsewhere with a forwarded port or
 * a pasted redirect URL), asks the daemon to log in, prints progress on stderr
 * and the result on stdout. Loaded only when `login` runs (client/cli/main.ts).
 */
import { readFileSync } from 'node:fs';
import type { LoginParams, LoginProgress } from '../../shared/protocol/login-types.js';
import { parseFixedRedirect } from '../../shared/fixed-redirect.js';
import { machineLoginParams, showClientKey } from './machine-login-options.js';
import { EXIT, UsageError, optional, parseSeconds, splitScopes, str } from './cli-core.js';
import { localDisplay } from './local-display.js';
import type { LocalDisplay } from './local-display.js';
import { deviceCodeLines, deviceQrCode, forwardLine, loadQrRenderer } from './login-messages.js';
import type { QrRenderer } from './login-messages.js';

/** How the person at this terminal approves, from the flags and the environment. */
export interface ApprovalChoice {
  device: LoginParams['device'];
  /** Start a browser on this machine (else print the URL and accept a pasted redirect). */
  openBrowser: boolean;
  /** Why the device grant is preferred, when it was chosen automatically. */
  note?: string;
}

export function chooseApproval(flags: { device: boolean; noBrowser: boolean; redirectUri: boolean }, display: () => LocalDisplay): ApprovalChoice {
  if (flags.device) {
    if (flags.redirectUri) throw new UsageError('--device has no redirect; give --device or --redirect-uri, not both');
    return { device: 'required', openBrowser: false };
  }
  // A person who named how the browser reaches us (elsewhere, or a fixed port) chose the browser login.
  if (flags.noBrowser || flags.redirectUri) return { device: undefined, openBrowser: !flags.noBrowser };
  const here = display();
  if (here.available) return { device: undefined, openBrowser: true };
  return { device: 'preferred', openBrowser: false, note: `no browser can be opened here (${here.why}): using the device login if the server offers it` };
}

export async function runLogin(values: Record<string, string | boolean | undefined>, serverUrl: string): Promise<number> {
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
  const machine = values['client-credentials'] === true || values['jwt-bearer'] === true;
  let redirectUri: string | undefined;
  if (typeof values['redirect-uri'] === 'string') {
    try {
      redirectUri = parseFixedRedirect(values['redirect-uri']).uri;
    } catch (err) {
      throw new UsageError(`--redirect-uri: ${(err as Error).message}`);
    }
  }
  // Machine and enterprise logins send nobody to a browser: there is no way of approval to choose.
  const approval: ApprovalChoice = machine || values['idp'] !== undefined ? { device: undefined, openBrowser: false } : chooseApproval(
    { device: values['device'] === true, noBrowser: values['no-browser'] === true, redirectUri: redirectUri !== undefined },
    () => localDisplay({ platform: process.platform, env: process.env }),
  );
  if (approval.note !== undefined) say(approval.note);
  // Loaded before the request: the progress callback that uses them is synchronous.
  const [{ McpAuthdClient }, { openBrowser: launchBrowser }, { createInterface }, { hostname }] = await Promise.all([
    import('../authd-client.js'),
    import('./open-browser.js'),
    import('node:readline'),
    import('node:os'),
  ]);

  // A QR code only on a terminal, and only when this login may be a device login.
  const qr: QrRenderer | undefined = approval.device !== undefined && process.stderr.isTTY === true ? await loadQrRenderer() : undefined;

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
        ...optional('idp_issuer', str(values['idp'])),
        ...optional('redirect_uri', redirectUri),
        ...optional('device', approval.device),
        ...(insecure ? { insecure_loopback: true } : {}),
        ...(timeout === undefined ? {} : { timeout }),
        ...machineLoginParams(values),
      },
      (progress: LoginProgress) => {
        if (progress.stage === 'client_key') showClientKey(progress, str(values['jwks-out']), say);
        if (progress.stage === 'discovered') say(`resource ${progress.resource ?? '?'} at ${progress.issuer ?? '?'}`);
        if (progress.stage === 'device_code') {
          const lines = deviceCodeLines(progress, Date.now());
          const code = deviceQrCode(progress, qr);
          if (code !== undefined) lines.splice(lines.length - 1, 0, code);
          for (const line of lines) say(line);
        }
        if (progress.stage === 'authorize_url' && progress.authorize_url !== undefined) {
          if (approval.openBrowser && progress.start_url !== undefined) {
            // The single-use local start URL: no state or challenge on the browser's command line.
            say(`open this URL to approve the login (your browser is being opened at it; it works once):\n\n  ${progress.start_url}\n`);
            launchBrowser(progress.start_url, say);
          } else {
            say(`open this URL in a browser to approve the login:\n\n  ${progress.authorize_url}\n`);
            const forward = progress.redirect_uri === undefined ? undefined : forwardLine(progress.redirect_uri, hostname());
            if (forward !== undefined) say(forward);
            // The browser may be on another machine: the URL it ends on can be pasted
            // (or piped) here. Not reading stdin otherwise keeps scripted logins simple.
            say('(or paste the URL your browser ended on here, then press Enter)');
            pasteReader = createInterface({ input: process.stdin });
            pasteReader.on('line', (line) => {
              const url = line.trim();
              if (url !== '') client.submitCallback(progress.login_id, url).catch((err: unknown) => say(`that URL was not accepted: ${(err as Error).message}`));
            });
          }
          say('waiting for approval in the browser...');
        }
        if (progress.stage === 'exchanging') {
          say(machine ? 'requesting a token...' : values['idp'] === undefined ? 'approved; exchanging the code for tokens...' : 'exchanging your identity provider session for a token (no browser)...');
        }
      },
    );
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `logged in\n  resource  ${result.resource}\n  issuer    ${result.issuer}\n  scopes    ${result.scopes.join(' ') || '(none)'}\n  expires   ${result.expires_at === null ? 'unknown' : new Date(result.expires_at * 1000).toISOString()}\n  refresh   ${result.has_refresh_token ? 'yes' : machine ? 'renewed by the daemon before it expires' : 'no refresh token: you will log in again when it expires'}\n`,
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

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
