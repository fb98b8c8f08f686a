/**
 * McpAuthdClient: the daemon's methods as typed calls over one connection.
 * Its own module so that `mcpauthd token` and `status` load only this and the
 * connection, not the MCP SDK adapters that client/index.ts also exports.
 */
import { assertNonNegativeInteger, assertOptionalString, assertString, assertStringArray } from '../shared/assert.js';
import { AuthdError, isAuthdError } from '../shared/errors.js';
import { resolvePaths } from '../shared/paths.js';
import { CLIENT_REFRESH_WAIT_MS, DAEMON_REFRESH_LONGEST_MS } from '../shared/refresh-timing.js';
import { EVENT_CREDENTIAL_UPDATED, type StatusResult } from '../shared/protocol/types.js';
import {
  type CredentialUpdated,
  type RefreshResult,
  type CredentialRef,
  type DeleteResult,
  type TokenGetResult,
  type DpopProofResult,
} from '../shared/protocol/credential-types.js';
import {
  type IdpLoginParams,
  type IdpLoginResult,
  type LoginParams,
  type LoginProgress,
  type LoginResult,
} from '../shared/protocol/login-types.js';
import {
  type AuditListParams,
  type AuditListResult,
  type PolicyMode,
  type PolicyShowResult,
  type ResourcePolicy,
} from '../shared/protocol/audit-policy-types.js';
import { Connection, DEFAULT_REQUEST_TIMEOUT_MS } from './connection.js';
import { requestFullStatus } from './status-pages.js';

export interface ClientOptions {
  /**
   * Socket path; default MCPAUTHD_SOCKET, else the first of $XDG_RUNTIME_DIR,
   * /run/user/<uid> (when ours and 0700) and the state directory where a daemon listens.
   */
  socket?: string;
  /** State directory, used only to find the default socket. */
  home?: string;
  /**
   * Per-request timeout in ms (default 10 s). Requests that may wait on a
   * refresh (`refresh()`, `getToken()` with `minTtl`) wait at least as long
   * as the daemon may take for one (140 s).
   */
  timeoutMs?: number;
}

export interface GetTokenOptions {
  scopes?: string[];
  /** Seconds the token must remain valid for; the daemon refreshes first when needed. */
  minTtl?: number;
  /** Treat `target` as a resource identifier only, not as an MCP server URL. */
  byResource?: boolean;
}

/** The request a DPoP proof is for. */
export interface DpopProofRequest {
  /** HTTP method, upper case. */
  htm: string;
  /** The request URL (query and fragment are left out of the proof). */
  htu: string;
  /** The resource server's latest `DPoP-Nonce`. */
  nonce?: string;
}

export class McpAuthdClient {
  readonly #connection: Connection;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions = {}) {
    assertOptionalString(options.socket, 'options.socket');
    assertOptionalString(options.home, 'options.home');
    this.#connection = new Connection(resolvePaths({ home: options.home, socket: options.socket }).socketCandidates);
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
    const mayRefresh = options.minTtl !== undefined && options.minTtl > 0;
    const request = this.#connection.request(
      'token.get',
      { ...ref, ...(options.scopes === undefined ? {} : { scopes: options.scopes }), ...(options.minTtl === undefined ? {} : { min_ttl: options.minTtl }) },
      { timeoutMs: mayRefresh ? this.#refreshWaitMs : this.#timeoutMs },
    );
    return mayRefresh ? explainRefreshTimeout(request, target) : request;
  }

  /**
   * A DPoP-bound credential's access token with a fresh proof for one request
   * (RFC 9449): send `Authorization: DPoP <access_token>` and `DPoP: <proof>`.
   * The proof is signed by the daemon, for a URL on the credential's own server only.
   * @param request the request's method and URL, and the server's latest `DPoP-Nonce` if any
   * @throws AuthdError as getToken(); `invalid_request` for a Bearer credential or a URL on another server
   */
  async getDpopProof(target: string, request: DpopProofRequest, options: GetTokenOptions = {}): Promise<DpopProofResult> {
    assertString(target, 'target');
    assertString(request.htm, 'request.htm');
    assertString(request.htu, 'request.htu');
    assertOptionalString(request.nonce, 'request.nonce');
    if (options.scopes !== undefined) assertStringArray(options.scopes, 'options.scopes');
    if (options.minTtl !== undefined) assertNonNegativeInteger(options.minTtl, 'options.minTtl');
    const ref: CredentialRef = options.byResource === true ? { resource: target } : { server_url: target };
    const mayRefresh = options.minTtl !== undefined && options.minTtl > 0;
    const pending = this.#connection.request(
      'dpop.proof',
      {
        ...ref,
        htm: request.htm,
        htu: request.htu,
        ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
        ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
        ...(options.minTtl === undefined ? {} : { min_ttl: options.minTtl }),
      },
      { timeoutMs: mayRefresh ? this.#refreshWaitMs : this.#timeoutMs },
    );
    return mayRefresh ? explainRefreshTimeout(pending, target) : pending;
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
    return explainRefreshTimeout(this.#connection.request('credential.refresh', { server_url: target }, { timeoutMs: this.#refreshWaitMs }), target);
  }

  /** A request that may wait on a refresh waits as long as the daemon may take for one (shared/refresh-timing.ts). */
  get #refreshWaitMs(): number {
    return Math.max(this.#timeoutMs, CLIENT_REFRESH_WAIT_MS);
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

  /**
   * Signs the daemon in to a company identity provider once (enterprise-managed
   * authorization). Without `id_token` it is a browser login with the same
   * progress events as login(); `login({ ..., idp_issuer })` then needs no browser.
   */
  async idpLogin(params: IdpLoginParams, onProgress?: (progress: LoginProgress) => void, signal?: AbortSignal): Promise<IdpLoginResult> {
    assertString(params.issuer, 'params.issuer');
    assertString(params.client_id, 'params.client_id');
    return this.#connection.request('idp.login', params, {
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

  /** Audit events, newest first (issue 18). */
  async audit(params: AuditListParams = {}): Promise<AuditListResult> {
    return this.#connection.request('audit.list', params, { timeoutMs: this.#timeoutMs });
  }

  async policyShow(): Promise<PolicyShowResult> {
    return this.#connection.request('policy.show', {}, { timeoutMs: this.#timeoutMs });
  }

  /** Sets the policy of the credential `target` names (server URL or resource), or of `target` as a resource. */
  async policySet(target: string, mode: PolicyMode): Promise<ResourcePolicy> {
    assertString(target, 'target');
    return this.#connection.request('policy.set', { server_url: target, mode }, { timeoutMs: this.#timeoutMs });
  }

  /** Approves `program` (named as the audit names it) for `target`, for `forSec` seconds or until revoked. */
  async policyAllow(target: string, program: string, forSec?: number): Promise<ResourcePolicy> {
    assertString(target, 'target');
    assertString(program, 'program');
    return this.#connection.request('policy.allow', { server_url: target, program, ...(forSec === undefined ? {} : { for: forSec }) }, { timeoutMs: this.#timeoutMs });
  }

  async policyRevoke(target: string, program: string): Promise<ResourcePolicy & { revoked: boolean }> {
    assertString(target, 'target');
    assertString(program, 'program');
    return this.#connection.request('policy.revoke', { server_url: target, program }, { timeoutMs: this.#timeoutMs });
  }

  close(): void {
    this.#connection.close();
  }
}

/**
 * Past CLIENT_REFRESH_WAIT_MS the daemon should long have answered; when it
 * has not, the refresh may still be running there (a busy or stuck daemon),
 * and "daemon timeout" alone would suggest it was abandoned.
 */
async function explainRefreshTimeout<T>(request: Promise<T>, target: string): Promise<T> {
  try {
    return await request;
  } catch (err) {
    if (!isAuthdError(err, 'DAEMON_TIMEOUT')) throw err;
    throw new AuthdError(
      'DAEMON_TIMEOUT',
      `no answer from the daemon within ${Math.round(CLIENT_REFRESH_WAIT_MS / 1000)} s; the refresh for ${target} may still be running in the daemon (it waits up to ${Math.round(DAEMON_REFRESH_LONGEST_MS / 1000)} s for the authorization server); check: mcpauthd status`,
      { cause: err, data: { server_url: target } },
    );
  }
}
