/**
 * An `OAuthClientProvider` (the MCP SDK's `authProvider` interface) backed by
 * the daemon, for code already built around `authProvider`.
 *
 * How it bends the SDK's `auth()` (SDK 1.32, client/auth.js) so that the SDK
 * never runs an OAuth request of its own:
 * - `tokens()` returns the daemon's access token only: no `refresh_token`, so
 *   `auth()` never refreshes by itself (it would race the daemon's refresh
 *   and, with rotating refresh tokens, lose the grant);
 * - `clientInformation()` returns a placeholder client and there is no
 *   `saveClientInformation()`, so `auth()` never registers a client;
 * - `redirectUrl` is set, so `auth()` never tries a client_credentials grant;
 * - `redirectToAuthorization()` ignores the SDK's URL (its PKCE verifier and
 *   client are placeholders) and has the daemon fix the credential instead:
 *   use a newer token, refresh, log in, or step up for the scopes asked for.
 *
 * Limits: `auth()` returns `'REDIRECT'` after `redirectToAuthorization()`, and
 * the transport then throws `UnauthorizedError`, even though the daemon has
 * fixed the credential by then. The call that met the 401/403 therefore fails
 * once and must be repeated (`connect()` with a new transport);
 * `retryAfterAuthorization()` does exactly that. Never call
 * `transport.finishAuth()`: there is no authorization code to exchange.
 * On one transport the SDK attempts a step-up for a given challenge only once
 * until a request succeeds; across transports this provider gives up after
 * `maxStepUps` step-up logins in a row that did not grant what was asked.
 *
 * DPoP (RFC 9449): the SDK only ever sends `Authorization: Bearer`. For a
 * DPoP-bound credential also pass the provider's `fetch` to the transport:
 * it turns the token this provider handed out into `Authorization: DPoP` with
 * a fresh daemon-signed proof per request, and retries once on the server's
 * `use_dpop_nonce`. For a Bearer credential it changes nothing.
 *
 * @example
 * ```ts
 * const url = 'https://mcp.example.com/mcp';
 * const authProvider = createOAuthClientProvider(url, { onAuthorizeUrl: (u) => console.error(`open ${u}`) });
 * const client = new Client({ name: 'app', version: '1.0.0' });
 * await authProvider.retryAfterAuthorization(() =>
 *   client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: authProvider.fetch })));
 * ```
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization
 */
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { assertNonNegativeInteger, assertString } from '../shared/assert.js';
import { AuthdError } from '../shared/errors.js';
import { DaemonCredential, type LoginOptions } from './daemon-credential.js';
import { McpAuthdClient } from './authd-client.js';
import { DEFAULT_MAX_STEP_UPS } from './mcp-fetch.js';
import { DpopNonces, isDpopNonceChallenge, requestCredential, withCredential } from './dpop-request.js';
import type { FetchLike } from './redirect-guard.js';
import type { TokenGetResult } from '../shared/protocol/credential-types.js';
import { discardBody } from '../shared/bounded-body.js';

/** Shown to the SDK only; the daemon logs in with its own loopback redirect and client. */
const PLACEHOLDER_REDIRECT_URL = 'http://127.0.0.1/mcpauthd-daemon-login';
const PLACEHOLDER_CLIENT_ID = 'mcpauthd-daemon';

export interface OAuthClientProviderOptions {
  /** The daemon client to use; default one for the default socket. */
  client?: McpAuthdClient;
  /** Parameters for logins the provider starts (e.g. `insecure_loopback`, `timeout`). */
  login?: LoginOptions;
  /**
   * Receives the URL the user must open to approve a login. Without it no
   * login is started and the SDK's call fails with `AuthdError('needs_login')`.
   */
  onAuthorizeUrl?: (authorizeUrl: string) => void;
  /** Step-up logins in a row that may fail to grant the scope asked for (default 3). */
  maxStepUps?: number;
  /** Seconds the token must stay valid for (default 0: the daemon refreshes ahead of expiry). */
  minTtl?: number;
}

/**
 * The daemon-backed `authProvider` for `serverUrl`. See the module comment for its limits.
 * @param serverUrl the MCP endpoint, exactly as logged into (the daemon matches it exactly)
 * @param options see {@link OAuthClientProviderOptions}
 * @returns a provider for the transport's `authProvider` option
 */
export function createOAuthClientProvider(serverUrl: string | URL, options: OAuthClientProviderOptions = {}): McpAuthdOAuthProvider {
  return new McpAuthdOAuthProvider(serverUrl, options);
}

export class McpAuthdOAuthProvider implements OAuthClientProvider {
  readonly serverUrl: string;
  readonly #credential: DaemonCredential;
  readonly #maxStepUps: number;
  // The access token last given to the SDK: when the server refuses, the
  // daemon is asked to replace exactly this one.
  #handedOut: string | undefined;
  /** The daemon's whole answer for #handedOut: its token_type says whether requests need proofs. */
  #handedOutToken: TokenGetResult | undefined;
  readonly #client: McpAuthdClient;
  readonly #nonces = new DpopNonces();
  #failedStepUps = 0;
  #authorizations = 0;
  #discovery: OAuthDiscoveryState | undefined;

  constructor(serverUrl: string | URL, options: OAuthClientProviderOptions = {}) {
    const server = typeof serverUrl === 'string' ? serverUrl : serverUrl.href;
    assertString(server, 'serverUrl');
    this.serverUrl = server;
    this.#maxStepUps = options.maxStepUps ?? DEFAULT_MAX_STEP_UPS;
    assertNonNegativeInteger(this.#maxStepUps, 'options.maxStepUps');
    if (options.minTtl !== undefined) assertNonNegativeInteger(options.minTtl, 'options.minTtl');
    this.#client = options.client ?? new McpAuthdClient();
    this.#credential = new DaemonCredential(server, {
      client: this.#client,
      ...(options.login === undefined ? {} : { login: options.login }),
      ...(options.onAuthorizeUrl === undefined ? {} : { onAuthorizeUrl: options.onAuthorizeUrl }),
      ...(options.minTtl === undefined ? {} : { minTtl: options.minTtl }),
    });
  }

  // Must be set: without a redirect URL auth() runs a non-interactive token grant itself.
  get redirectUrl(): string {
    return PLACEHOLDER_REDIRECT_URL;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      redirect_uris: [PLACEHOLDER_REDIRECT_URL],
      client_name: 'mcpauthd (daemon-backed provider; never registered)',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  // A client is always "known", so auth() never registers one; the daemon has its own.
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: PLACEHOLDER_CLIENT_ID };
  }

  /** The daemon's access token: never a refresh token, so the SDK never refreshes by itself. */
  async tokens(): Promise<OAuthTokens | undefined> {
    const token = await this.#credential.current();
    this.#handedOut = token?.access_token;
    this.#handedOutToken = token;
    if (token === undefined) return undefined;
    return {
      access_token: token.access_token,
      token_type: 'Bearer',
      ...(token.expires_at === null ? {} : { expires_in: Math.max(0, token.expires_at - Math.floor(Date.now() / 1000)) }),
      ...(token.scopes.length === 0 ? {} : { scope: token.scopes.join(' ') }),
    };
  }

  /** Only reached if the SDK obtained tokens itself, which this provider exists to prevent. */
  saveTokens(): void {
    throw new AuthdError('USAGE', 'the daemon owns this credential; do not call transport.finishAuth() with an mcpauthd provider: reconnect instead');
  }

  /**
   * Where the SDK would send the user; instead the daemon fixes the
   * credential for the scopes the SDK asked for, and resolves when it has.
   */
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const requested = (authorizationUrl.searchParams.get('scope') ?? '').split(' ').filter((s) => s !== '');
    const current = await this.#credential.current();
    if (current === undefined) {
      await this.#credential.firstLogin(requested.length === 0 ? undefined : requested);
      this.#authorizations++;
      return;
    }
    const missing = requested.filter((s) => !current.scopes.includes(s));
    if (missing.length === 0) {
      // A token holding every scope asked for was refused (revoked, expired
      // early): renew it, unless the daemon already holds one not yet tried.
      if (this.#handedOut === current.access_token) await this.#credential.renew(current.access_token, requested);
      this.#authorizations++;
      return;
    }
    if (this.#failedStepUps >= this.#maxStepUps) {
      throw new AuthdError(
        'insufficient_scope',
        `gave up on ${this.serverUrl} after ${this.#failedStepUps} step-up logins that did not grant: ${missing.join(' ')}`,
        { data: { resource: current.resource, granted: current.scopes, missing, scope: requested.join(' ') } },
      );
    }
    const result = await this.#credential.stepUp(current.scopes, requested);
    this.#failedStepUps = missing.every((s) => result.scopes.includes(s)) ? 0 : this.#failedStepUps + 1;
    this.#authorizations++;
  }

  // The SDK's PKCE verifier belongs to an authorization URL nobody opens.
  saveCodeVerifier(): void {}

  codeVerifier(): string {
    throw new AuthdError('USAGE', 'the daemon logs in with its own PKCE verifier; do not call transport.finishAuth() with an mcpauthd provider: reconnect instead');
  }

  // The daemon checks the resource exactly on its own login; the SDK's URL is discarded anyway.
  async validateResourceURL(): Promise<URL | undefined> {
    return undefined;
  }

  /**
   * Kept without the metadata's `scopes_supported`: auth() then asks for the
   * challenge's scope only, and a 401 whose challenge names no scope (a
   * revoked token) reaches redirectToAuthorization() without scopes, so it
   * refreshes instead of mistaking the metadata's full list for a step-up.
   */
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    const metadata = state.resourceMetadata;
    if (metadata === undefined) {
      this.#discovery = state;
      return;
    }
    const { scopes_supported: _all, ...rest } = metadata;
    this.#discovery = { ...state, resourceMetadata: rest };
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.#discovery;
  }

  /**
   * The transport's `fetch` (pass it with `authProvider`): a request carrying
   * the DPoP-bound token this provider handed out is sent as
   * `Authorization: DPoP` with a fresh proof the daemon signs for exactly this
   * request (RFC 9449 §7), once more with the server's nonce on
   * `use_dpop_nonce` (§9). Anything else goes out unchanged.
   */
  readonly fetch: FetchLike = async (url, init = {}) => {
    const token = this.#handedOutToken;
    const headers = new Headers(init.headers);
    const href = typeof url === 'string' ? url : url.href;
    const bound = token?.token_type === 'DPoP' && headers.get('authorization') === `Bearer ${token.access_token}`;
    if (!bound || token === undefined || new URL(href).origin !== new URL(this.serverUrl).origin) return globalThis.fetch(url, init);
    const replayable = !(init.body instanceof ReadableStream);
    for (let attempt = 0; ; attempt++) {
      const sent = await requestCredential(this.#client, token, { method: init.method ?? 'GET', url: href, nonce: this.#nonces.for(href) });
      const response = await globalThis.fetch(url, { ...init, headers: withCredential(headers, sent) });
      this.#nonces.remember(href, response);
      if (attempt > 0 || !replayable || !isDpopNonceChallenge(response)) return response;
      await discardBody(response);
    }
  };

  /** How many times the daemon fixed the credential (login, refresh, step-up) for the SDK. */
  get authorizations(): number {
    return this.#authorizations;
  }

  /**
   * Runs `fn` (e.g. `client.connect(new …Transport(…))` or `client.callTool(…)`),
   * and runs it again when it failed after this provider had the daemon fix the
   * credential during it: the SDK reports such a call as unauthorized even
   * though the credential is ready. `fn` must build a new transport when it connects.
   */
  async retryAfterAuthorization<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const before = this.#authorizations;
      try {
        return await fn();
      } catch (err) {
        if (this.#authorizations === before || attempt > this.#maxStepUps) throw err;
      }
    }
  }
}
