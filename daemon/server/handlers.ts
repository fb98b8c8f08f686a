/**
 * The socket methods, one function each, given the daemon's parts explicitly
 * (HandlerDeps). daemon.ts builds the parts and hands them in; dispatch.ts
 * routes a request to the function here.
 */
import { AuthdError } from '../../shared/errors.js';
import { EVENT_CREDENTIAL_UPDATED, EVENT_LOGIN_PROGRESS, PROTOCOL_VERSION, type DaemonInfo, type Methods } from '../../shared/protocol/types.js';
import { revocationReport } from '../login/logout-report.js';
import { statusPage } from '../store/status-page.js';
import type { Handlers } from './dispatch.js';
import type { RequestContext } from './socket-server.js';
import { createLogLevelHandler } from './log-level-handler.js';
import type { Logger } from '../os/logger.js';
import type { RefreshScheduler } from '../refresh/refresh-scheduler.js';
import type { ChangeListener, TokenRefresher } from '../refresh/token-refresher.js';
import { describeRef, findCredential, getToken, notFoundError } from '../serve/token-service.js';
import { dpopProof } from '../serve/dpop-proof.js';
import type { TokenStore } from '../store/token-store.js';
import type { Subscribers } from './subscribers.js';
import type { LoginRegistry } from '../login/login-registry.js';
import type { AuditLog } from '../serve/audit.js';
import type { PolicyService } from '../serve/policy.js';
import { createAuditPolicyHandlers, credentialUse, recordOutcome } from './audit-handlers.js';

export interface HandlerDeps {
  store: TokenStore;
  info: DaemonInfo;
  now: () => number;
  refresher: TokenRefresher;
  scheduler: RefreshScheduler;
  subscribers: Subscribers;
  onChange: ChangeListener;
  logger: Logger;
  logins: LoginRegistry;
  audit: AuditLog;
  policy: PolicyService;
}

/** The login flow and logout pull in openid-client; load them when the first login or logout asks. */
const loadLoginFlow = () => import('../login/login-flow.js');
const loadLogout = () => import('../login/logout.js');

type Params<M extends keyof Methods> = Methods[M]['params'];
type Result<M extends keyof Methods> = Promise<Methods[M]['result']>;

export async function hello(deps: HandlerDeps, params: Params<'hello'>): Result<'hello'> {
  if (!params.versions.includes(PROTOCOL_VERSION)) {
    throw new AuthdError('unsupported_version', `this daemon speaks protocol ${PROTOCOL_VERSION}; the client offered ${params.versions.join(', ')}`);
  }
  return { protocol: PROTOCOL_VERSION, version: deps.info.version, pid: deps.info.pid };
}

export async function status(deps: HandlerDeps, params: Params<'status'>): Result<'status'> {
  const page = statusPage(deps.store, deps.info, params, deps.now());
  if (!deps.audit.enabled) return page;
  // Who used each credential in the last day (issue 18): one indexed read per credential on the page, and
  // the uses not written yet; nothing is written (a status is a read, and scripts run it per request).
  const since = deps.now() - 86_400_000;
  return { ...page, credentials: page.credentials.map((c) => ({ ...c, programs_last_day: deps.audit.programsSince(c.resource, since) })) };
}

export function tokenGet(deps: HandlerDeps, params: Params<'token.get'>, ctx: RequestContext): ReturnType<Handlers['token.get']> {
  const { store, now, refresher } = deps;
  return credentialUse(deps, 'token.get', params, ctx.caller, (authorize, outcome) =>
    getToken(params, { store, now, authorize, outcome, refresh: (record, reason) => refresher.refresh(record, reason, ctx.caller) }),
  );
}

/** `dpop.proof`: the same serving rules, policy and audit as token.get (the policy check runs in credentialToServe). */
export function dpopProofGet(deps: HandlerDeps, params: Params<'dpop.proof'>, ctx: RequestContext): Result<'dpop.proof'> {
  const { store, now, refresher } = deps;
  return credentialUse(deps, 'dpop.proof', params, ctx.caller, (authorize, outcome) =>
    dpopProof(params, { store, now, authorize, outcome, refresh: (record, reason) => refresher.refresh(record, reason, ctx.caller) }),
  );
}

export async function credentialDelete(deps: HandlerDeps, params: Params<'credential.delete'>, ctx: RequestContext): Result<'credential.delete'> {
  return recordOutcome(deps.audit, 'logout', () => findCredential(deps.store, params)?.resource ?? describeRef(params), ctx.caller, () => logoutNow(deps, params));
}

async function logoutNow(deps: HandlerDeps, params: Params<'credential.delete'>): Result<'credential.delete'> {
  const { store, logger, now, onChange, scheduler } = deps;
  const record = findCredential(store, params);
  if (record === undefined) throw notFoundError(store, params, 'mcpauthd logout', false);
  // Revocation is best effort (T4); the local credential goes either way.
  const { logout } = await loadLogout();
  const revocation = await logout(record, { store, logger });
  const deleted = store.deleteCredential(record.resourceKey);
  onChange('deleted', record);
  scheduler.reschedule();
  return { deleted, resource: record.resource, ...revocationReport(record, revocation, now()) };
}

export async function credentialRefresh(deps: HandlerDeps, params: Params<'credential.refresh'>, ctx: RequestContext): Result<'credential.refresh'> {
  const record = findCredential(deps.store, params);
  // A refresh that starts is recorded by the refresher's listener (with its trigger); a refused one here.
  if (record === undefined) {
    const err = notFoundError(deps.store, params, 'mcpauthd refresh');
    deps.audit.record({ method: 'refresh', resource: describeRef(params), subject: ctx.caller, outcome: 'error', errorCode: err.code, detail: 'forced' });
    throw err;
  }
  const refreshed = await deps.refresher.refresh(record, 'forced', ctx.caller);
  return { resource: refreshed.resource, expires_at: refreshed.expiresAt === null ? null : Math.floor(refreshed.expiresAt / 1000), scopes: refreshed.scopes };
}

export async function subscribe(deps: HandlerDeps, _params: Params<'subscribe'>, ctx: RequestContext): Result<'subscribe'> {
  ctx.keepAlive();
  deps.subscribers.add((event) => ctx.notify(EVENT_CREDENTIAL_UPDATED, { ...event }), ctx.closed);
  return { subscribed: true };
}

export async function login(deps: HandlerDeps, params: Params<'login'>, ctx: RequestContext): Result<'login'> {
  const { store, logger, now, onChange, scheduler, logins } = deps;
  ctx.keepAlive(); // a person may take minutes to approve
  const { runLogin } = await loadLoginFlow();
  const result = await recordOutcome(deps.audit, 'login', (r) => r?.resource ?? params.server_url, ctx.caller, () => runLogin(params, { store, logger, now, logins }, (progress) => ctx.notify(EVENT_LOGIN_PROGRESS, { ...progress }), ctx.closed));
  onChange('logged_in', { resource: result.resource });
  scheduler.reschedule();
  return result;
}

/** `idp.login`: a session at a company identity provider (enterprise-managed authorization). */
export async function idpLogin(deps: HandlerDeps, params: Params<'idp.login'>, ctx: RequestContext): Result<'idp.login'> {
  const { store, logger, now, logins } = deps;
  ctx.keepAlive();
  const { runIdpLogin } = await import('../login/idp-session.js');
  return runIdpLogin(params, { store, logger, now, logins }, (progress) => ctx.notify(EVENT_LOGIN_PROGRESS, { ...progress }), ctx.closed);
}

export async function loginCallback(deps: HandlerDeps, params: Params<'login.callback'>): Result<'login.callback'> {
  return deps.logins.submitCallbackUrl(params.login_id, params.url);
}

/** The dispatch table: each method bound to its function and the daemon's parts. */
export function createHandlers(deps: HandlerDeps): Handlers {
  return {
    hello: (params) => hello(deps, params),
    status: (params) => status(deps, params),
    'token.get': (params, ctx) => tokenGet(deps, params, ctx),
    'dpop.proof': (params, ctx) => dpopProofGet(deps, params, ctx),
    'credential.delete': (params, ctx) => credentialDelete(deps, params, ctx),
    'credential.refresh': (params, ctx) => credentialRefresh(deps, params, ctx),
    subscribe: (params, ctx) => subscribe(deps, params, ctx),
    login: (params, ctx) => login(deps, params, ctx),
    'login.callback': (params) => loginCallback(deps, params),
    'idp.login': (params, ctx) => idpLogin(deps, params, ctx),
    'log.level': createLogLevelHandler(deps.logger),
    ...createAuditPolicyHandlers(deps),
  };
}
