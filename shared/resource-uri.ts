/**
 * Rules for resource identifiers and MCP server URLs.
 *
 * Two things are kept apart on purpose:
 * - the resource string as received (PRM `resource`), which is what goes to the
 *   authorization server byte for byte and is never rewritten (checklist R2);
 * - its lookup key, a canonical form used only to find a credential: scheme and
 *   host lowercased, default port dropped, fragment removed, an empty path
 *   written as "/". Nothing else is folded: `/mcp` and `/mcp/` are different
 *   resources, and so are another port, another scheme or a longer path.
 */
import { AuthdError } from './errors.js';
import { isLoopbackHost } from './loopback.js';

const DEFAULT_PORTS: Record<string, string> = { 'https:': '443', 'http:': '80' };

function parse(input: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new AuthdError('INVALID_RESOURCE', `${what} is not an absolute URL: ${JSON.stringify(input.slice(0, 200))}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AuthdError('INVALID_RESOURCE', `${what} must be an https URL, got scheme "${url.protocol.slice(0, -1)}"`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new AuthdError('INVALID_RESOURCE', `${what} must not contain user information`);
  }
  return url;
}

/**
 * The lookup key of a resource or MCP server URL.
 * @throws AuthdError INVALID_RESOURCE when it is not an http(s) URL;
 *   `invalid_request` when the URL parser would rewrite it in any way other
 *   than the documented folds (dot segments, a lone "?", numeric or hex IPv4
 *   forms, a port with leading zeros, backslashes, spaces, control
 *   characters, percent-encoding, ...): such an input is not the resource it
 *   looks like, so it matches nothing (invariant 1). The message names the
 *   canonical form to use instead.
 */
export function resourceKey(input: string): string {
  const url = parse(input, 'resource');
  // URL already lowercases scheme and host and drops a default port; be explicit
  // anyway so the rule does not hang on parser details.
  const port = url.port === '' || url.port === DEFAULT_PORTS[url.protocol] ? '' : `:${url.port}`;
  const key = `${url.protocol.toLowerCase()}//${url.hostname.toLowerCase()}${port}${url.pathname}${url.search}`;
  if (documentedFold(input) !== key) {
    throw new AuthdError(
      'invalid_request',
      `${JSON.stringify(input.slice(0, 300))} is not in canonical form; it would be read as ${key}. Use that exact URL ` +
        '(only scheme and host case, a default port, a fragment and an empty path are folded)',
    );
  }
  return key;
}

/**
 * The input with only the documented folds applied, by plain string
 * operations (no URL parser), or null when it does not even have the plain
 * `scheme://authority[/path][?query][#fragment]` shape.
 */
function documentedFold(input: string): string | null {
  // Spaces and control characters are dropped or escaped by the parser anywhere, fragment included.
  if (/[\u0000-\u0020\u007f\\]/.test(input)) return null;
  const hash = input.indexOf('#');
  const noFragment = hash === -1 ? input : input.slice(0, hash);
  const shape = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)(.*)$/s.exec(noFragment);
  if (shape === null) return null;
  const scheme = (shape[1] as string).toLowerCase();
  let authority = (shape[2] as string).toLowerCase();
  const rest = shape[3] as string;
  const defaultPort = DEFAULT_PORTS[`${scheme}:`];
  if (defaultPort !== undefined && authority.endsWith(`:${defaultPort}`)) authority = authority.slice(0, -defaultPort.length - 1);
  return `${scheme}://${authority}${rest === '' || rest.startsWith('?') ? `/${rest}` : rest}`;
}

/** True when two resource identifiers have the same lookup key; anything unparsable matches nothing. */
export function sameResource(a: string, b: string): boolean {
  try {
    return resourceKey(a) === resourceKey(b);
  } catch {
    return false;
  }
}

/**
 * URLs a person may have meant when `input` matches no credential, for an
 * error that names the stored one (never to serve it: checklist R1). Narrow on
 * purpose: the same host, port, path and query with only the trailing slash of
 * a non-root path toggled, the scheme swapped between https and http, or
 * both. Case, default port and fragment are already folded by resourceKey.
 */
export function nearbyUrls(input: string): string[] {
  let url: URL;
  try {
    url = parse(input, 'resource');
  } catch {
    return [];
  }
  const path = url.pathname;
  const paths = path.length > 1 ? [path, path.endsWith('/') ? path.slice(0, -1) : `${path}/`] : [path];
  const schemes = url.protocol === 'https:' ? ['https:', 'http:'] : ['http:', 'https:'];
  const out: string[] = [];
  for (const scheme of schemes) {
    for (const p of paths) {
      if (scheme !== url.protocol || p !== path) out.push(`${scheme}//${url.host}${p}${url.search}`);
    }
  }
  return out;
}

/**
 * Enforces HTTPS, with plain HTTP allowed only to loopback hosts and only when
 * the user opted in (`--insecure-loopback` / MCPAUTHD_INSECURE_LOOPBACK=1).
 */
export function assertSecureUrl(input: string, what: string, allowInsecureLoopback: boolean): URL {
  const url = parse(input, what);
  if (url.protocol === 'https:') return url;
  if (!isLoopbackHost(url.hostname)) {
    throw new AuthdError('INVALID_RESOURCE', `${what} ${url.origin} uses plain HTTP; only https is allowed for non-loopback hosts`);
  }
  if (!allowInsecureLoopback) {
    throw new AuthdError(
      'INVALID_RESOURCE',
      `${what} ${url.origin} uses plain HTTP; for local testing against a loopback host, pass --insecure-loopback or set MCPAUTHD_INSECURE_LOOPBACK=1`,
    );
  }
  return url;
}
