/**
 * Redirects of requests that carry a token (issue 13 item 8). fetch keeps the
 * Authorization header on a same-origin redirect, so a server could send the
 * token of /s/one/mcp on to /s/victim/mcp, another resource on the same
 * origin. Here redirects are followed by hand: the token goes along only when
 * the target is the very resource the credential belongs to (sameResource,
 * shared/resource-uri.ts: the exact rule the daemon matches with); any other
 * target, same origin or not, fails with TOKEN_REDIRECT_REFUSED naming both.
 *
 * A caller's `redirect: 'manual'` is not honoured for a request with a token:
 * the MCP SDK's transports ask for it and then follow the Location
 * themselves, through the same wrapper, which would attach the token again.
 * They never see the redirect; they get the followed answer or the error.
 * Requests without an Authorization header are passed to fetch unchanged.
 */
import { AuthdError } from '../shared/errors.js';
import { sameResource } from '../shared/resource-uri.js';
/** The fetch signature the MCP SDK transports take. */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Same-resource redirects followed for one request before giving up (a loop is a server bug). */
export const MAX_TOKEN_REDIRECTS = 5;

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Origin and path only: a query string may carry something not ours to print. */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * Sends a request that may carry `Authorization`, following redirects only
 * within `resource` (the credential's URL).
 * @throws AuthdError TOKEN_REDIRECT_REFUSED for a redirect elsewhere, too many
 *   redirects, or a 307/308 whose streamed body cannot be sent again.
 */
export async function fetchWithTokenRedirects(fetchImpl: FetchLike, url: string | URL, init: RequestInit, resource: string): Promise<Response> {
  if (!new Headers(init.headers).has('authorization') || init.redirect === 'error') return fetchImpl(url, init);
  let current = new URL(url);
  let request: RequestInit = { ...init, redirect: 'manual' };
  for (let hops = 0; ; hops++) {
    const response = await fetchImpl(current, request);
    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
    await response.body?.cancel().catch(() => undefined);
    let target: URL;
    try {
      target = new URL(location, current);
    } catch {
      throw new AuthdError('TOKEN_REDIRECT_REFUSED', `${shown(current)} answered HTTP ${response.status} with an unusable Location; the request was not sent on`);
    }
    if (!sameResource(target.href, resource)) {
      throw new AuthdError(
        'TOKEN_REDIRECT_REFUSED',
        `${shown(current)} redirected (HTTP ${response.status}) to ${shown(target)}, another resource than the credential's (${resource}); ` +
          'mcpauthd sends a token only to the resource it was issued for. If that is the server you meant, log in to it and use its URL directly',
      );
    }
    if (hops + 1 >= MAX_TOKEN_REDIRECTS) {
      throw new AuthdError('TOKEN_REDIRECT_REFUSED', `${shown(current)} redirected more than ${MAX_TOKEN_REDIRECTS - 1} times; giving up`);
    }
    request = redirectedRequest(request, response.status);
    current = target;
  }
}

/**
 * A `fetch` for an MCP SDK transport used with `createOAuthClientProvider`:
 * the SDK puts the provider's token on its requests and follows same-origin
 * redirects itself, token included; with this as the transport's `fetch`
 * option, those redirects are held to the rule above.
 * @example new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: createRedirectGuardedFetch(url) })
 */
export function createRedirectGuardedFetch(serverUrl: string | URL, fetchImpl: FetchLike = (url, init) => globalThis.fetch(url, init)): FetchLike {
  const resource = typeof serverUrl === 'string' ? serverUrl : serverUrl.href;
  return (url, init = {}) => fetchWithTokenRedirects(fetchImpl, url, init, resource);
}

/** The fetch standard's method rule: 303 (and 301/302 after a POST) become a GET without a body; 307/308 resend as is. */
function redirectedRequest(request: RequestInit, status: number): RequestInit {
  const method = (request.method ?? 'GET').toUpperCase();
  if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
    const headers = new Headers(request.headers);
    for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(name);
    const { body: _dropped, ...rest } = request;
    return { ...rest, method: 'GET', headers };
  }
  if (request.body instanceof ReadableStream) {
    throw new AuthdError('TOKEN_REDIRECT_REFUSED', `a redirect (HTTP ${status}) asked to send a streamed request body again, which cannot be done`);
  }
  return request;
}
