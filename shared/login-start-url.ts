/**
 * The single-use local address a login's browser is started with:
 * http://127.0.0.1:PORT/start/<nonce>. It redirects once to the authorization
 * URL, so `state` and the PKCE challenge never appear in a browser's argv,
 * which every local user can read in /proc/<pid>/cmdline (issue 13 item 1).
 */
export const START_PATH_PREFIX = '/start/';

/** True only for a loopback start URL: nothing else may be put on a browser's command line. */
export function isLoginStartUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (
    url.protocol === 'http:' &&
    url.hostname === '127.0.0.1' &&
    url.port !== '' &&
    url.username === '' &&
    url.password === '' &&
    url.search === '' &&
    url.hash === '' &&
    /^\/start\/[A-Za-z0-9_-]{16,128}$/.test(url.pathname)
  );
}
