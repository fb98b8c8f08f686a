/**
 * The one rule for a fixed loopback redirect URI (issue 16 item 2): a client
 * registered with exactly one redirect URI needs the login's listener on that
 * port and path. Accepted: `http://127.0.0.1:PORT/path`, `http://localhost:PORT/path`,
 * or a bare PORT (meaning http://127.0.0.1:PORT/callback). The listener binds
 * 127.0.0.1 in every case; the URI is sent to the authorization server exactly
 * as given, since a registered URI is compared as a string.
 */
import { AuthdError } from './errors.js';

export interface FixedRedirect {
  /** The redirect URI, exactly as it goes to the authorization server. */
  uri: string;
  host: '127.0.0.1' | 'localhost';
  port: number;
  /** The callback path, e.g. '/callback'. */
  path: string;
}

const DEFAULT_PATH = '/callback';

function refuse(message: string): never {
  throw new AuthdError('invalid_request', `redirect URI: ${message}`, { data: { reason: 'invalid_redirect_uri' } });
}

/** @throws AuthdError invalid_request (data.reason invalid_redirect_uri) saying what is wrong. */
export function parseFixedRedirect(text: string): FixedRedirect {
  const given = text.trim();
  if (/^\d+$/.test(given)) {
    const port = Number(given);
    if (port < 1 || port > 65535) refuse(`port ${given.slice(0, 10)} is not between 1 and 65535`);
    return { uri: `http://127.0.0.1:${port}${DEFAULT_PATH}`, host: '127.0.0.1', port, path: DEFAULT_PATH };
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    refuse('not a URL or a port number; give http://127.0.0.1:PORT/callback, http://localhost:PORT/callback or a port');
  }
  if (url.protocol !== 'http:') refuse('only http:// loopback redirect URIs can be received here (RFC 8252 §7.3)');
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') refuse(`host ${url.hostname.slice(0, 100)} is not 127.0.0.1 or localhost`);
  if (url.port === '') refuse('it needs an explicit port, e.g. http://127.0.0.1:8765/callback');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') refuse('no user, query or fragment allowed');
  if (url.pathname.startsWith('/start/')) refuse('the path /start/ is reserved for the login start address');
  // URL drops a lone trailing slash after the port; keep what the user wrote otherwise.
  const path = url.pathname === '' ? '/' : url.pathname;
  return { uri: `http://${url.hostname}:${url.port}${path}`, host: url.hostname, port: Number(url.port), path };
}
