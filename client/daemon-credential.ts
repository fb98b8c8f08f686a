/**
 * One MCP server's credential as the client adapters see it (the fetch
 * wrapper, the OAuthClientProvider, the proxy): the daemon's current token,
 * and the single policy for what to do when the server refuses it. The daemon
 * owns the credential and does every OAuth request; this module only picks the
 * daemon call (use the newer token, refresh, log in, step up) and makes sure
 * that concurrent requests hitting the same refusal make that call once.
 */
import { AuthdError, isAuthdError } from '../shared/errors.js';
import type { TokenGetResult } from '../shared/protocol/credential-types.js';
import type { LoginParams, LoginResult } from '../shared/protocol/login-types.js';
import { unionScopes } from '../shared/scopes.js';
// A cycle (index.ts re-exports the adapters that import this), harmless
// because McpAuthdClient is only used inside functions, never at load time.
import type { McpAuthdClient } from './authd-client.js';
import { HeldToken, isDaemonUnreachable } from './held-token.js';

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
   * `cancel(why)` gives up on the login (e.g. no browser could be started):
   * the requests waiting for it fail at once with `needs_login` naming the command.
   */
  onAuthorizeUrl?: (authorizeUrl: string, cancel: (why: string) => void) => void;
  /**
   * How long one request waits for a login it started or joined before it
   * fails with `needs_login` naming the command to run (the login itself goes
   * on until its own timeout). Default: until the login ends.
   */
  loginWaitMs?: number;
  /** Seconds the token must stay valid for; default 0 (the daemon already refreshes ahead of expiry). */
  minTtl?: number;
}

/** Daemon errors that a login (rather than a retry) resolves. */
const LOGIN_FIXES: ReadonlySet<string> = new Set(['not_found', 'needs_login', 'expired']);

export function isLoginNeeded(err: unknown): boolean {
  return isAuthdError(err) && LOGIN_FIXES.has(err.code);
}

export class DaemonCredential {
  readonly serverUrl: string;
  readonly #client: McpAuthdClient;
  readonly #login: LoginOptions;
  readonly #onAuthorizeUrl: ((authorizeUrl: string, cancel: (why: string) => void) => void) | undefined;
  readonly #loginWaitMs: number | undefined;
  readonly #minTtl: number;
  readonly #held: HeldToken;
  #loginInFlight: Promise<LoginResult> | undefined;
  // The token a server refused and the renewal that answers it; requests
  // refused with the same token join it instead of refreshing again.
  #renewal: { rejected: string; done: Promise<void> } | undefined;

  constructor(serverUrl: string, options: DaemonCredentialOptions) {
    this.serverUrl = serverUrl;
    this.#client = options.client;
    this.#login = options.login ?? {};
    this.#onAuthorizeUrl = options.onAuthorizeUrl;
    this.#loginWaitMs = options.loginWaitMs;
    this.#minTtl = options.minTtl ?? 0;
    this.#held = new HeldToken({
      socketPath: () => this.#client.socketPath,
      refetch: async () => {
        await this.#ask();
      },
    });
  }

  /**
   * The daemon's token for this server, asked for on every call (a local round
   * trip of well under a millisecond), so a refresh done by the daemon or by
   * another process is picked up at once. Undefined when only a login helps.
   *
   * While the daemon cannot be reached (restarting, upgraded), the token it
   * gave last for this server is used for the rest of its life, never past
   * its expiry (client/held-token.ts); the daemon is asked again after a
   * backoff, and a token it refreshes meanwhile arrives by credential.updated.
   */
  async current(): Promise<TokenGetResult | undefined> {
    const held = this.#held.usable(this.#minTtl);
    if (held !== undefined && !this.#held.shouldAskDaemon()) return held;
    try {
      return await this.#ask();
    } catch (err) {
      if (!isDaemonUnreachable(err)) throw err;
      this.#held.daemonDown();
      const fallback = this.#held.usable(this.#minTtl);
      if (fallback === undefined) throw err;
      return fallback;
    }
  }

  /** Stops following the daemon's updates (the adapter is done). */
  close(): void {
    this.#held.close();
  }

  async #ask(): Promise<TokenGetResult | undefined> {
    try {
      const result = await this.#client.getToken(this.serverUrl, this.#minTtl > 0 ? { minTtl: this.#minTtl } : {});
      this.#held.remember(result);
      return result;
    } catch (err) {
      if (!isLoginNeeded(err)) throw err;
      this.#held.forget();
      return undefined;
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
    return this.#waitFor(this.#startLogin(this.#login.scopes ?? challenged));
  }

  /** The server answered 403 insufficient_scope: log in again for what is granted plus what it demands. */
  stepUp(granted: readonly string[], challenged: readonly string[]): Promise<LoginResult> {
    return this.#waitFor(this.#startLogin(unionScopes(granted, challenged)));
  }

  /** `needs_login` naming the command a person can run instead, with `why` the login here did not happen. */
  #loginCommandError(why: string): AuthdError {
    const command = `mcpauthd login ${this.serverUrl}`;
    return new AuthdError('needs_login', `${why}; run: ${command} (in a terminal), then retry`, { data: { server_url: this.serverUrl, command } });
  }

  /**
   * The login, as one request waits for it: at most loginWaitMs, and a login
   * the daemon gave up waiting for is reported as the command to run.
   */
  #waitFor(login: Promise<LoginResult>): Promise<LoginResult> {
    const explained = login.catch((err: unknown) => {
      // Over the socket a login the daemon stopped waiting for is login_failed, reason timeout.
      if (isAuthdError(err, 'login_failed') && err.data?.reason === 'timeout') {
        throw this.#loginCommandError(`the login to ${this.serverUrl} was not approved in time (${err.message})`);
      }
      throw err;
    });
    const waitMs = this.#loginWaitMs;
    if (waitMs === undefined) return explained;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(this.#loginCommandError(`the login to ${this.serverUrl} got no approval within ${Math.round(waitMs / 1000)} s (approve it in the browser if one opened)`));
      }, waitMs);
    });
    // The login goes on after this request gives up: a late approval still stores the credential.
    explained.catch(() => undefined);
    return Promise.race([explained, expired]).finally(() => clearTimeout(timer));
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
    let giveUp: (err: AuthdError) => void = () => undefined;
    const givenUp = new Promise<never>((_resolve, reject) => {
      giveUp = reject;
    });
    const cancel = (why: string): void => {
      giveUp(this.#loginCommandError(why));
      abort.abort();
    };
    const daemonLogin = this.#client.login(
      params,
      (progress) => {
        if (progress.stage !== 'authorize_url') return;
        try {
          if (progress.start_url === undefined) throw new AuthdError('internal', 'the daemon sent no login start URL; restart it (it is older than this client)');
          onAuthorizeUrl(progress.start_url, cancel);
        } catch (err) {
          // Nobody will open the URL: stop waiting rather than hang until the login times out.
          abort.abort(err);
        }
      },
      abort.signal,
    );
    // Whichever settles first; the other's rejection is expected and handled here.
    daemonLogin.catch(() => undefined);
    givenUp.catch(() => undefined);
    const login = Promise.race([daemonLogin, givenUp]).finally(() => {
      this.#loginInFlight = undefined;
    });
    this.#loginInFlight = login;
    return login;
  }
}
