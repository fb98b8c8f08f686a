/**
 * One MCP server's credential as the client adapters see it (the fetch
 * wrapper, the OAuthClientProvider, the proxy): the daemon's current token,
 * and the single policy for what to do when the server refuses it. The daemon
 * owns the credential and does every OAuth request; this module only picks the
 * daemon call (use the newer token, refresh, log in, step up) and makes sure
 * that concurrent requests hitting the same refusal make that call once.
 */
import { AuthdError, isAuthdError } from '../shared/errors.js';
import type { LoginParams, LoginResult, TokenGetResult } from '../shared/protocol.js';
// A cycle (index.ts re-exports the adapters that import this), harmless
// because McpAuthdClient is only used inside functions, never at load time.
import type { McpAuthdClient } from './index.js';

/** What a login started by an adapter sends to the daemon, besides the server URL. */
export type LoginOptions = Omit<LoginParams, 'server_url'>;

export interface DaemonCredentialOptions {
  client: McpAuthdClient;
  /**
   * Parameters for logins the adapter starts. `scopes`, when given, replaces
   * the scopes of the server's challenge on a first login (a step-up always
   * asks for what is granted plus what the server demands).
   */
  login?: LoginOptions;
  /**
   * Called with the URL the user must open (in a browser on this machine) to
   * approve a login: the daemon's single-use start URL
   * http://127.0.0.1:PORT/start/<nonce>, which redirects to the authorization
   * server. It carries no `state` or challenge, so it may be printed or put on
   * a browser's command line. Without it no login is started: the adapter
   * fails with `needs_login` instead, naming the `mcpauthd login` command to run.
   */
  onAuthorizeUrl?: (authorizeUrl: string) => void;
  /** Seconds the token must stay valid for; default 0 (the daemon already refreshes ahead of expiry). */
  minTtl?: number;
}

/** Daemon errors that a login (rather than a retry) resolves. */
const LOGIN_FIXES: ReadonlySet<string> = new Set(['not_found', 'needs_login', 'expired']);

export function isLoginNeeded(err: unknown): boolean {
  return isAuthdError(err) && LOGIN_FIXES.has(err.code);
}

/** `a` then the members of `b` not in `a`, in first-seen order. */
export function unionScopes(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

export class DaemonCredential {
  readonly serverUrl: string;
  readonly #client: McpAuthdClient;
  readonly #login: LoginOptions;
  readonly #onAuthorizeUrl: ((authorizeUrl: string) => void) | undefined;
  readonly #minTtl: number;
  #loginInFlight: Promise<LoginResult> | undefined;
  // The token a server refused and the renewal that answers it; requests
  // refused with the same token join it instead of refreshing again.
  #renewal: { rejected: string; done: Promise<void> } | undefined;

  constructor(serverUrl: string, options: DaemonCredentialOptions) {
    this.serverUrl = serverUrl;
    this.#client = options.client;
    this.#login = options.login ?? {};
    this.#onAuthorizeUrl = options.onAuthorizeUrl;
    this.#minTtl = options.minTtl ?? 0;
  }

  /**
   * The daemon's token for this server, asked for on every call (a local round
   * trip of well under a millisecond), so a refresh done by the daemon or by
   * another process is picked up at once. Undefined when only a login helps.
   */
  async current(): Promise<TokenGetResult | undefined> {
    try {
      return await this.#client.getToken(this.serverUrl, this.#minTtl > 0 ? { minTtl: this.#minTtl } : {});
    } catch (err) {
      if (isLoginNeeded(err)) return undefined;
      throw err;
    }
  }

  /**
   * The server answered 401 to `rejected` (undefined: no token was sent).
   * Uses a newer token when the daemon already has one, else asks the daemon
   * to refresh, else logs in with the challenge's scopes.
   */
  async renew(rejected: string | undefined, challenged: readonly string[] | undefined): Promise<void> {
    if (rejected === undefined) {
      await this.firstLogin(challenged);
      return;
    }
    if (this.#renewal?.rejected === rejected) return this.#renewal.done;
    const done = this.#renewAfter(rejected, challenged).finally(() => {
      if (this.#renewal?.done === done) this.#renewal = undefined;
    });
    this.#renewal = { rejected, done };
    return done;
  }

  async #renewAfter(rejected: string, challenged: readonly string[] | undefined): Promise<void> {
    const now = await this.current();
    if (now !== undefined && now.access_token !== rejected) return;
    if (now !== undefined) {
      try {
        await this.#client.refresh(this.serverUrl);
        return;
      } catch (err) {
        if (!isLoginNeeded(err)) throw err;
      }
    }
    await this.firstLogin(challenged);
  }

  /** A login for a server we hold no usable credential for. */
  firstLogin(challenged: readonly string[] | undefined): Promise<LoginResult> {
    return this.#startLogin(this.#login.scopes ?? challenged);
  }

  /** The server answered 403 insufficient_scope: log in again for what is granted plus what it demands. */
  stepUp(granted: readonly string[], challenged: readonly string[]): Promise<LoginResult> {
    return this.#startLogin(unionScopes(granted, challenged));
  }

  // One login at a time per server: a person approves it, and concurrent
  // requests that all need it must not open one browser tab each.
  #startLogin(scopes: readonly string[] | undefined): Promise<LoginResult> {
    if (this.#loginInFlight !== undefined) return this.#loginInFlight;
    const onAuthorizeUrl = this.#onAuthorizeUrl;
    if (onAuthorizeUrl === undefined) {
      return Promise.reject(
        new AuthdError('needs_login', `no usable credential for ${this.serverUrl}; run: mcpauthd login ${this.serverUrl}`, { data: { server_url: this.serverUrl } }),
      );
    }
    const { scopes: _configured, ...rest } = this.#login;
    const params: LoginParams = { ...rest, server_url: this.serverUrl, ...(scopes !== undefined && scopes.length > 0 ? { scopes: [...scopes] } : {}) };
    const abort = new AbortController();
    const login = this.#client
      .login(
        params,
        (progress) => {
          if (progress.stage !== 'authorize_url') return;
          try {
            if (progress.start_url === undefined) throw new AuthdError('internal', 'the daemon sent no login start URL; restart it (it is older than this client)');
            onAuthorizeUrl(progress.start_url);
          } catch (err) {
            // Nobody will open the URL: stop waiting rather than hang until the login times out.
            abort.abort(err);
          }
        },
        abort.signal,
      )
      .finally(() => {
        this.#loginInFlight = undefined;
      });
    this.#loginInFlight = login;
    return login;
  }
}
