/**
 * The public client API of mcpauthd (`import { McpAuthdClient } from 'mcpauthd/client'`).
 * Any new export added here becomes public API.
 *
 * @example
 * ```ts
 * const authd = new McpAuthdClient();
 * const { access_token } = await authd.getToken('https://mcp.example.com/mcp');
 * ```
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization
 */
import { assertNonNegativeInteger, assertOptionalString, assertString, assertStringArray } from '../shared/assert.js';
import { resolvePaths } from '../shared/paths.js';
import {
  EVENT_CREDENTIAL_UPDATED,
  type CredentialUpdated,
  type RefreshResult,
  type CredentialRef,
  type DeleteResult,
  type LoginParams,
  type LoginProgress,
  type LoginResult,
  type StatusResult,
  type TokenGetResult,
} from '../shared/protocol.js';
import { Connection, DEFAULT_REQUEST_TIMEOUT_MS } from './connection.js';
import { requestFullStatus } from './status-pages.js';

export { AuthdError, isAuthdError, type ErrorCode } from '../shared/errors.js';
export type { CredentialSummary, CredentialUpdated, DaemonInfo, LoginProgress, LoginResult, RefreshResult, StatusResult, TokenGetResult } from '../shared/protocol.js';

export interface ClientOptions {
  /** Socket path; default from MCPAUTHD_SOCKET or the platform default. */
  socket?: string;
  /** State directory, used only to find the default socket. */
  home?: string;
  /** Per-request timeout in ms (default 10 s). */
  timeoutMs?: number;
}

export interface GetTokenOptions {
  scopes?: string[];
  /** Seconds the token must remain valid for; the daemon refreshes first when needed. */
  minTtl?: number;
  /** Treat `target` as a resource identifier only, not as an MCP server URL. */
  byResource?: boolean;
}

export class McpAuthdClient {
  readonly #connection: Connection;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions = {}) {
    assertOptionalString(options.socket, 'options.socket');
    assertOptionalString(options.home, 'options.home');
    this.#connection = new Connection(resolvePaths({ home: options.home, socket: options.socket }).socket);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  get socketPath(): string {
    return this.#connection.socketPath;
  }

  /**
   * An access token for exactly `target` (an MCP server URL or a resource).
   * @throws AuthdError `not_found`, `needs_login`, `insufficient_scope` (with `data.scope` for a step-up), `expired`, `DAEMON_UNAVAILABLE`
   */
  async getToken(target: string, options: GetTokenOptions = {}): Promise<TokenGetResult> {
    assertString(target, 'target');
    if (options.scopes !== undefined) assertStringArray(options.scopes, 'options.scopes');
    if (options.minTtl !== undefined) assertNonNegativeInteger(options.minTtl, 'options.minTtl');
    const ref: CredentialRef = options.byResource === true ? { resource: target } : { server_url: target };
    return this.#connection.request(
      'token.get',
      { ...ref, ...(options.scopes === undefined ? {} : { scopes: options.scopes }), ...(options.minTtl === undefined ? {} : { min_ttl: options.minTtl }) },
      { timeoutMs: this.#timeoutMs },
    );
  }

  async status(): Promise<StatusResult> {
    return requestFullStatus(this.#connection, this.#timeoutMs);
  }

  /** Forgets the credential for `target` (revoking it at the authorization server when it can). */
  async logout(target: string): Promise<DeleteResult> {
    assertString(target, 'target');
    return this.#connection.request('credential.delete', { server_url: target }, { timeoutMs: this.#timeoutMs });
  }

  /** Refreshes the credential for `target` now (joining a refresh already in flight). */
  async refresh(target: string): Promise<RefreshResult> {
    assertString(target, 'target');
    return this.#connection.request('credential.refresh', { server_url: target }, { timeoutMs: Math.max(this.#timeoutMs, 30_000) });
  }

  /**
   * Calls `listener` whenever a credential is refreshed, needs a login, is
   * logged into or deleted, so a long-running client never holds a stale token.
   * Resolves once the daemon confirmed; the returned function unsubscribes.
   */
  async subscribe(listener: (event: CredentialUpdated) => void): Promise<() => void> {
    const off = this.#connection.onNotification((n) => {
      if (n.event === EVENT_CREDENTIAL_UPDATED) listener(n.data as unknown as CredentialUpdated);
    });
    try {
      await this.#connection.request('subscribe', {}, { timeoutMs: this.#timeoutMs });
    } catch (err) {
      off();
      throw err;
    }
    return off;
  }

  /**
   * Logs into an MCP server through the daemon. Resolves when the user has
   * approved in the browser and the token has been checked and stored.
   */
  async login(params: LoginParams, onProgress?: (progress: LoginProgress) => void, signal?: AbortSignal): Promise<LoginResult> {
    assertString(params.server_url, 'params.server_url');
    return this.#connection.request('login', params, {
      timeoutMs: 0,
      ...(signal === undefined ? {} : { signal }),
      onEvent: (n) => {
        if (n.event === 'login.progress' && onProgress !== undefined) onProgress(n.data as unknown as LoginProgress);
      },
    });
  }

  /** Hands the daemon the redirect URL the browser ended on (for a browser on another machine). */
  async submitCallback(loginId: string, url: string): Promise<boolean> {
    assertString(loginId, 'loginId');
    assertString(url, 'url');
    return (await this.#connection.request('login.callback', { login_id: loginId, url }, { timeoutMs: this.#timeoutMs })).accepted;
  }

  close(): void {
    this.#connection.close();
  }
}

// ---------------------------------------------------------------- MCP SDK adapters
// Both import the SDK for types only, so `mcpauthd/client` loads without it.
export { createAuthorizedFetch, DEFAULT_MAX_STEP_UPS, type AuthorizedFetchOptions, type FetchLike } from './mcp-fetch.js';
export { createOAuthClientProvider, McpAuthdOAuthProvider, type OAuthClientProviderOptions } from './mcp-auth-provider.js';
export { createRedirectGuardedFetch } from './redirect-guard.js';
export type { LoginOptions } from './daemon-credential.js';
