/**
 * Opens a login's start URL in the user's browser the way `mcpauthd login`
 * does: $BROWSER (split on whitespace, the URL as its last argument), else
 * `open` on macOS and `xdg-open` elsewhere. A failure only means the user
 * opens the URL by hand, so it is reported through `onFailure`, never thrown.
 *
 * Only a loopback start URL (http://127.0.0.1:PORT/start/<nonce>) is ever put
 * on the command line: a browser's argv is readable by every local user, and
 * the authorization URL carries `state` and the PKCE challenge (issue 13 item 1).
 */
import { spawn } from 'node:child_process';
import { isLoginStartUrl } from '../../shared/login-start-url.js';

export function openBrowser(url: string, onFailure: (message: string) => void): void {
  if (!isLoginStartUrl(url)) {
    onFailure('not opening a browser: only a login start URL (http://127.0.0.1:PORT/start/...) may go on its command line; open the URL yourself');
    return;
  }
  const configured = process.env['BROWSER'];
  const [command, ...args] =
    configured !== undefined && configured.trim() !== ''
      ? [...configured.trim().split(/\s+/), url]
      : process.platform === 'darwin'
        ? ['open', url]
        : ['xdg-open', url];
  const failed = () => onFailure(`could not start ${command ?? 'a browser'}; open the URL yourself`);
  try {
    // Detached and ignored: the browser outlives us, and its output must not reach our stdout.
    const child = spawn(command as string, args, { stdio: 'ignore', detached: true });
    child.on('error', failed);
    child.unref();
  } catch {
    failed();
  }
}
