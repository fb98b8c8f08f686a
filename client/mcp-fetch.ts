/**
 * A `fetch` for the MCP SDK's HTTP transports (`StreamableHTTPClientTransport`,
 * `SSEClientTransport`) whose tokens come from the daemon: pass it as the
 * transport's `fetch` option and leave `authProvider` unset. It never sees a
 * refresh token, so neither can the SDK.
 *
 * @example
 * ```ts
 * const url = 'https://mcp.example.com/mcp';
 * const transport = new StreamableHTTPClientTransport(new URL(url), {
 *   fetch: createAuthorizedFetch(url, { onAuthorizeUrl: (u) => console.error(`open ${u}`) }),
 * });
 * await new Client({ name: 'app', version: '1.0.0' }).connect(transport);
 * ```
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization
 */
import { assertNonNegativeInteger, assertString } from '../shared/assert.js';
import { discardBody } from '../shared/bounded-body.js';
import { parseBearerChallenge } from '../shared/www-authenticate.js';
import { DaemonCredential, type LoginOptions } from './daemon-credential.js';
import { McpAuthdClient } from './authd-client.js';
import { fetchWithTokenRedirects, type FetchLike } from './redirect-guard.js';
import { DpopNonces, isDpopNonceChallenge, requestCredential, withCredential } from './dpop-request.js';

/** The `fetch` shape the MCP SDK transports accept. */
export type { FetchLike } from './redirect-guard.js';

/** Step-up logins one request may trigger before the 403 is handed back. */
export const DEFAULT_MAX_STEP_UPS = 3;

export interface AuthorizedFetchOptions {
  /** The daemon client to use; default one for the default socket. */
  client?: McpAuthdClient;
  /** Parameters for logins this wrapper starts (e.g. `insecure_loopback`, `timeout`, a pre-registered `client_id`). */
  login?: LoginOptions;
  /**
   * Receives the URL the user must open to approve a login. Without it the
   * wrapper never starts a login and throws `AuthdError('needs_login')`.
   * Calling `cancel(why)` gives up on that login: waiting requests fail at
   * once with `needs_login` naming the `mcpauthd login` command.
   */
  onAuthorizeUrl?: (authorizeUrl: string, cancel: (why: string) => void) => void;
  /** How long a request waits for a login before failing with `needs_login` naming the command (default: until the login ends). */
  loginWaitMs?: number;
  /** Step-up logins per request on 403 insufficient_scope (default 3). */
  maxStepUps?: number;
  /** Seconds the token must stay valid for (default 0: the daemon refreshes ahead of expiry). */
  minTtl?: number;
  /** The fetch that does the HTTP; default `globalThis.fetch`. */
  fetch?: FetchLike;
}

/**
 * Wraps `fetch` so that requests to `serverUrl`'s origin carry
 * `Authorization: Bearer` with the daemon's token for `serverUrl`, and:
 * - on 401, uses a newer token if the daemon has one, else asks the daemon to
 *   refresh, else to log in (with the challenge's `scope`), then retries once;
 * - on 403 `insufficient_scope`, asks the daemon for a step-up login (granted
 *   scopes plus the challenge's) and retries, at most `maxStepUps` times for
 *   one request; after that the 403 response is returned.
 *
 * Requests to any other origin are passed through without a token. A request
 * with a token that is redirected is followed only to the same resource
 * (`serverUrl`); a redirect anywhere else throws `TOKEN_REDIRECT_REFUSED`
 * (client/redirect-guard.ts). A request whose body is a stream cannot be
 * replayed and is not retried.
 *
 * @param serverUrl the MCP endpoint, exactly as logged into (the daemon matches it exactly)
 * @param options see {@link AuthorizedFetchOptions}
 * @returns a `fetch` for the transport's `fetch` option
 * @throws AuthdError from the daemon (`needs_login` when a login is needed but
 *   no `onAuthorizeUrl` was given, `login_failed`, `refresh_failed`, `DAEMON_UNAVAILABLE`, …)
 */
export function createAuthorizedFetch(serverUrl: string | URL, options: AuthorizedFetchOptions = {}): FetchLike {
  const server = typeof serverUrl === 'string' ? serverUrl : serverUrl.href;
  assertString(server, 'serverUrl');
  const origin = new URL(server).origin;
  const maxStepUps = options.maxStepUps ?? DEFAULT_MAX_STEP_UPS;
  assertNonNegativeInteger(maxStepUps, 'options.maxStepUps');
  if (options.minTtl !== undefined) assertNonNegativeInteger(options.minTtl, 'options.minTtl');
  if (options.loginWaitMs !== undefined) assertNonNegativeInteger(options.loginWaitMs, 'options.loginWaitMs');
  const baseFetch: FetchLike = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const client = options.client ?? new McpAuthdClient();
  const nonces = new DpopNonces();
  const credential = new DaemonCredential(server, {
    client,
    ...(options.login === undefined ? {} : { login: options.login }),
    ...(options.onAuthorizeUrl === undefined ? {} : { onAuthorizeUrl: options.onAuthorizeUrl }),
    ...(options.minTtl === undefined ? {} : { minTtl: options.minTtl }),
    ...(options.loginWaitMs === undefined ? {} : { loginWaitMs: options.loginWaitMs }),
  });

  return async function authorizedFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    // The token is for this server only: never hand it to another origin.
    if (new URL(url).origin !== origin) return baseFetch(url, init);
    const replayable = isReplayable(init.body);
    const href = typeof url === 'string' ? url : url.href;
    let renewed = false;
    let nonceRetried = false;
    let stepUps = 0;
    for (;;) {
      const token = await credential.current();
      // A DPoP-bound token goes with a fresh proof the daemon signs for this request (RFC 9449 §7).
      const sent = token === undefined ? undefined : await requestCredential(client, token, { method: init.method ?? 'GET', url: href, nonce: nonces.for(href) });
      // Redirects only within this credential's resource, never on to another (issue 13 item 8).
      const response = await fetchWithTokenRedirects(baseFetch, url, { ...init, headers: withCredential(init.headers, sent) }, server);
      if (sent?.dpop !== undefined) nonces.remember(href, response);
      if (!replayable) return response;
      // RFC 9449 §9: the server wants its nonce in the proof: one retry per request, not a renewal.
      if (sent?.dpop !== undefined && !nonceRetried && isDpopNonceChallenge(response)) {
        nonceRetried = true;
        await discardBody(response);
        continue;
      }
      if (response.status === 401 && !renewed) {
        renewed = true;
        const challenge = parseBearerChallenge(response.headers.get('www-authenticate'));
        await discardBody(response);
        await credential.renew(sent?.accessToken, challenge?.scope);
        continue;
      }
      if (response.status === 403 && stepUps < maxStepUps) {
        const challenge = parseBearerChallenge(response.headers.get('www-authenticate'));
        if (challenge?.error === 'insufficient_scope' && challenge.scope !== undefined) {
          stepUps++;
          await discardBody(response);
          await credential.stepUp(token?.scopes ?? [], challenge.scope);
          continue;
        }
      }
      return response;
    }
  };
}

// Everything fetch accepts as a body except a stream can be sent twice.
function isReplayable(body: RequestInit['body']): boolean {
  return body === undefined || body === null || !(body instanceof ReadableStream);
}
