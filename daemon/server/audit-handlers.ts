/**
 * The audit and policy methods (issue 18), and the two ways requests reach
 * the audit trail: `recordOutcome` around a handler, and `auditRefreshes`,
 * the refresher's listener, which records each refresh with its trigger and
 * whoever started it (the scheduler's own have no caller).
 */
import { resourceKey } from '../../shared/resource-uri.js';
import type { Methods } from '../../shared/protocol/types.js';
import type { CredentialRef } from '../../shared/protocol/credential-types.js';
import { AUDIT_DEFAULT_LIMIT } from '../../shared/protocol/validate.js';
import { DAEMON_SUBJECT, type AuditLog, type AuditSubject } from '../serve/audit.js';
import { findCredential } from '../serve/token-service.js';
import type { RefreshListener } from '../refresh/token-refresher.js';
import type { TokenStore } from '../store/token-store.js';
import type { Handlers } from './dispatch.js';
import type { PolicyService, PolicySubjectCredential } from '../serve/policy.js';
import { toWireError } from './socket-server.js';
import type { OutcomeListener } from '../serve/token-service.js';

/** Runs `work` and records its outcome: ok, denied (policy) or error with the wire code. */
export async function recordOutcome<T>(
  audit: AuditLog,
  method: string,
  resourceOf: (result: T | undefined) => string | null,
  subject: AuditSubject | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (!audit.enabled) return work();
  let result: T;
  try {
    result = await work();
  } catch (err) {
    const code = toWireError(err).code;
    audit.record({ method, resource: resourceOf(undefined), subject, outcome: code === 'denied' ? 'denied' : 'error', errorCode: code });
    throw err;
  }
  audit.record({ method, resource: resourceOf(result), subject, outcome: 'ok' });
  return result;
}

/**
 * The one hook for every method that hands a caller something made from a
 * credential: `token.get` here, and `dpop.proof` (issue 17b) the same way.
 * `work` receives `authorize`, to call with the credential as soon as the
 * exact match found it (before anything else is told or started); it asks the
 * policy and throws `denied`. The outcome is recorded under `method` with the
 * credential's resource (or what the request named when none matched).
 *
 *   'dpop.proof': (params, ctx) => credentialUse(deps, 'dpop.proof', params, ctx.caller, (authorize, outcome) => makeProof(params, { authorize, outcome }))
 */
export function credentialUse<T>(
  deps: { audit: AuditLog; policy: PolicyService },
  method: 'token.get' | 'dpop.proof',
  ref: CredentialRef,
  subject: AuditSubject | undefined,
  work: (authorize: (record: PolicySubjectCredential) => void | Promise<void>, outcome: OutcomeListener | undefined) => Promise<T>,
): Promise<T> {
  const { audit, policy } = deps;
  let resource: string | undefined;
  const authorize = (record: PolicySubjectCredential): void | Promise<void> => {
    resource = record.resource;
    return policy.check(record, subject);
  };
  // With the audit off, nothing but the policy check is added to today's path.
  if (!audit.enabled) return work(authorize, undefined);
  // The hot path: the work reports its own outcome (token-service.ts OutcomeListener);
  // a `then` here cost a promise and a microtask per token.get.
  return work(authorize, {
    served: () => audit.record({ method, resource: resource ?? null, subject, outcome: 'ok' }),
    failed: (err) => {
      const code = toWireError(err).code;
      audit.record({ method, resource: resource ?? ref.resource ?? ref.server_url ?? null, subject, outcome: code === 'denied' ? 'denied' : 'error', errorCode: code });
    },
  });
}

/** The refresher's listener: one event per refresh that ran, with its trigger. */
export function auditRefreshes(audit: AuditLog): RefreshListener {
  return (record, reason, origin, outcome) => {
    const subject = isSubject(origin) ? origin : DAEMON_SUBJECT;
    outcome.then(
      () => audit.record({ method: 'refresh', resource: record.resource, subject, outcome: 'ok', detail: reason }),
      (err: unknown) => audit.record({ method: 'refresh', resource: record.resource, subject, outcome: 'error', errorCode: toWireError(err).code, detail: reason }),
    );
  };
}

function isSubject(origin: unknown): origin is AuditSubject {
  return typeof origin === 'object' && origin !== null && typeof (origin as { program?: unknown }).program === 'string';
}

/**
 * The resource a policy or audit request names: the credential's when one
 * matches exactly (by server URL or resource), else the name as a resource
 * (a policy may be set before the first login).
 */
export function policyTarget(store: TokenStore, ref: CredentialRef): { key: string; resource: string } {
  const record = findCredential(store, ref);
  if (record !== undefined) return { key: record.resourceKey, resource: record.resource };
  const name = (ref.resource ?? ref.server_url) as string;
  return { key: resourceKey(name), resource: name };
}

type Params<M extends keyof Methods> = Methods[M]['params'];

export function createAuditPolicyHandlers(deps: { store: TokenStore; audit: AuditLog; policy: PolicyService }): Pick<Handlers, 'audit.list' | 'policy.show' | 'policy.set' | 'policy.allow' | 'policy.revoke'> {
  const { store, audit, policy } = deps;
  return {
    'audit.list': async (params: Params<'audit.list'>) =>
      audit.query({
        ...(params.resource === undefined ? {} : { resourceKey: policyTarget(store, { server_url: params.resource }).key }),
        ...(params.program === undefined ? {} : { program: params.program }),
        ...(params.since === undefined ? {} : { since: params.since * 1000 }),
        limit: params.limit ?? AUDIT_DEFAULT_LIMIT,
      }),
    'policy.show': async () => ({ policies: policy.show() }),
    // Changes to the policy are in the trail too, with who made them (detail: the mode, or the program concerned).
    'policy.set': (params: Params<'policy.set'>, ctx) =>
      recordPolicyChange(audit, 'policy.set', params.mode, ctx.caller, async () => {
        const { key, resource } = policyTarget(store, params);
        return policy.setMode(key, resource, params.mode);
      }),
    'policy.allow': (params: Params<'policy.allow'>, ctx) =>
      recordPolicyChange(audit, 'policy.allow', params.program, ctx.caller, async () => {
        const { key, resource } = policyTarget(store, params);
        return policy.allow(key, resource, params.program, params.for === undefined ? undefined : params.for * 1000);
      }),
    'policy.revoke': (params: Params<'policy.revoke'>, ctx) =>
      recordPolicyChange(audit, 'policy.revoke', params.program, ctx.caller, async () => {
        const { key, resource } = policyTarget(store, params);
        return policy.revoke(key, resource, params.program);
      }),
  };
}

async function recordPolicyChange<T extends { resource: string }>(audit: AuditLog, method: string, detail: string, subject: AuditSubject | undefined, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    audit.record({ method, resource: result.resource, subject, outcome: 'ok', detail });
    return result;
  } catch (err) {
    audit.record({ method, resource: null, subject, outcome: 'error', errorCode: toWireError(err).code, detail });
    throw err;
  }
}
