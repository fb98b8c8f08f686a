/**
 * The steps of the lifecycle model test, as fast-check commands: each one acts
 * on the real system (LifecycleWorld), checks its own answer against the
 * model, and then the invariants every step must keep (lifecycle-audit.ts).
 * Calls that a stalled server holds past their step stay pending; their
 * answers are checked when they come.
 */
import fc from 'fast-check';
import type { AuthdError, TokenGetResult } from '../../client/index.js';
import { decodeJwtPayload } from '../../daemon/oauth/token-response.js';
import { completeLogin } from '../fixtures/browser.js';
import { auditReuse, auditStore, loginChainRoot, serverRejectedGrant, storedExpiry, type CredentialModel, type ReuseCase } from './lifecycle-audit.js';
import { NARROWED_SCOPE, type FaultKind, type LifecycleWorld } from './lifecycle-world.js';

export interface LifecycleModel {
  creds: Map<string, CredentialModel>;
  fault: FaultKind;
  /** Reuses a SIGKILL explains, found so far in this run (counted and attributed in the report). */
  permittedReuse: ReuseCase[];
  /** A stall costs more than the HTTP timeout of wall time: at most one per run keeps runs bounded. */
  stalled: boolean;
}

export type LifecycleCommand = fc.AsyncCommand<LifecycleModel, LifecycleWorld>;
type Command = LifecycleCommand;

/** How long a step waits for its calls before leaving them pending. */
const STEP_WAIT_MS = 2_500;
/** A SIGTERM must finish within the stall (its refreshes are waited for) plus this. */
const SHUTDOWN_GRACE_MS = 15_000;

/** Errors a call may legitimately end with, whatever the model says. */
const TRANSIENT = new Set(['refresh_failed', 'expired', 'DAEMON_UNAVAILABLE', 'DAEMON_TIMEOUT']);

function resourceOf(world: LifecycleWorld, index: number): string {
  return world.resources[index % world.resources.length] as string;
}

function modelOf(model: LifecycleModel, resource: string): CredentialModel {
  let cred = model.creds.get(resource);
  if (cred === undefined) {
    cred = { loggedIn: false, scopes: [], chainRoot: undefined, mayBeNarrowed: false };
    model.creds.set(resource, cred);
  }
  return cred;
}

/** Checks one served token: exactly its resource, its audience, the scopes asked for, the lifetime asked for. */
function checkServed(world: LifecycleWorld, step: string, resource: string, scopes: string[], minTtl: number | undefined, askedAt: number, result: TokenGetResult): void {
  const aud = decodeJwtPayload(result.access_token)?.['aud'];
  if (result.resource !== resource) world.violations.push(`${step}: served resource ${result.resource}`);
  if (aud !== resource) world.violations.push(`${step}: served a token with aud ${String(aud)}`);
  const tokenScopes = String(decodeJwtPayload(result.access_token)?.['scope'] ?? '').split(' ');
  for (const scope of scopes) {
    if (!result.scopes.includes(scope) || !tokenScopes.includes(scope)) world.violations.push(`${step}: served a token without the requested scope ${scope} (item 6)`);
  }
  // Measured from when the call was made (the daemon answered later, so this is never stricter
  // than the promise), with one second of slack for the whole-second expires_at.
  if (minTtl !== undefined && result.expires_at !== null && result.expires_at * 1000 - askedAt < (minTtl - 1) * 1000) {
    world.violations.push(`${step}: served a token expiring ${((result.expires_at * 1000 - askedAt) / 1000).toFixed(1)} s after it was asked for with min_ttl ${minTtl} (item 5)`);
  }
}

/** A token.get whose answer is checked against the model as it was when the call was made. */
function tokenGet(world: LifecycleWorld, model: LifecycleModel, resource: string, scopes: string[], minTtl: number | undefined): Promise<void> {
  const cred = modelOf(model, resource);
  const loggedIn = cred.loggedIn;
  const lacksScope = scopes.some((s) => !cred.scopes.includes(s));
  // The server may have cut the grant down on a refresh: a step-up answer is then right too.
  const mayLackScope = lacksScope || (cred.mayBeNarrowed && scopes.some((s) => s !== NARROWED_SCOPE));
  const step = `token.get ${resource} scopes=[${scopes.join(' ')}] min_ttl=${minTtl ?? '-'}`;
  const client = world.client!;
  const askedAt = Date.now();
  return client.getToken(resource, { scopes, ...(minTtl === undefined ? {} : { minTtl }) }).then(
    (result) => {
      if (!loggedIn) world.violations.push(`${step}: served a token for a resource that is not logged in`);
      else if (lacksScope) world.violations.push(`${step}: served though the login lacks a requested scope`);
      checkServed(world, step, resource, scopes, minTtl, askedAt, result);
    },
    (err: AuthdError) => expectError(world, step, err, { loggedIn, lacksScope: mayLackScope, cred }),
  );
}

function refresh(world: LifecycleWorld, model: LifecycleModel, resource: string): Promise<void> {
  const cred = modelOf(model, resource);
  const loggedIn = cred.loggedIn;
  const step = `credential.refresh ${resource}`;
  return world.client!.refresh(resource).then(
    (result) => {
      if (!loggedIn) world.violations.push(`${step}: refreshed a resource that is not logged in`);
      if (result.resource !== resource) world.violations.push(`${step}: answered for ${result.resource}`);
    },
    (err: AuthdError) => expectError(world, step, err, { loggedIn, lacksScope: false, cred }),
  );
}

function expectError(world: LifecycleWorld, step: string, err: AuthdError, at: { loggedIn: boolean; lacksScope: boolean; cred: CredentialModel }): void {
  const code = err.code;
  if (TRANSIENT.has(code) || code === 'needs_login') return; // needs_login: the store audit decides if it was earned
  // Also when a logout came while the call was under way.
  if (code === 'not_found' && (!at.loggedIn || !at.cred.loggedIn)) return;
  if (code === 'insufficient_scope' && at.lacksScope) return;
  world.violations.push(`${step}: unexpected error ${code}: ${err.message}`);
}

/** A login through the daemon, the scripted browser approving; the model follows the result. */
export async function logIn(world: LifecycleWorld, model: LifecycleModel, resource: string, admin: boolean): Promise<void> {
  const scopes = admin ? ['mcp:tools', 'mcp:admin'] : ['mcp:tools'];
  const browsers: Promise<unknown>[] = [];
  const result = await world.client!.login({ server_url: resource, insecure_loopback: true, scopes }, (p) => {
    if (p.stage === 'authorize_url' && p.authorize_url !== undefined) browsers.push(completeLogin(p.authorize_url));
  });
  await Promise.all(browsers);
  if (result.resource !== resource) world.violations.push(`login ${resource}: logged in to ${result.resource}`);
  const cred = modelOf(model, resource);
  cred.loggedIn = true;
  cred.scopes = result.scopes;
  cred.chainRoot = loginChainRoot(world, resource);
  cred.mayBeNarrowed = model.fault === 'narrow';
  if (cred.chainRoot === undefined) world.violations.push(`login ${resource}: the server saw no code exchange handing out a refresh token`);
}

/** The invariants every step keeps; throws with everything found. */
function audit(world: LifecycleWorld, model: LifecycleModel, step: string): void {
  const reuse = auditReuse(world);
  model.permittedReuse = reuse.permittedReuse;
  const found = [...world.violations, ...reuse.violations, ...auditStore(world, model.creds)];
  world.violations.length = 0;
  if (found.length > 0) throw new Error(`after step "${step}":\n  ${found.join('\n  ')}`);
}

/** Builds a command from its label, precondition and action; every command ends with the audit. */
function command(label: string, check: (m: LifecycleModel) => boolean, act: (m: LifecycleModel, w: LifecycleWorld) => Promise<void>): Command {
  return {
    check,
    run: async (m, w) => {
      w.note(label);
      await act(m, w);
      audit(w, m, label);
    },
    toString: () => label,
  };
}

const resourceIndex = fc.nat({ max: 7 });
const scopeSets = fc.constantFrom<string[]>([], ['mcp:tools'], ['mcp:admin'], ['mcp:tools', 'mcp:admin']);

export function lifecycleCommands(options: { accessTokenTtlSec: number; faults: readonly FaultKind[] }): fc.Arbitrary<Command>[] {
  const ttl = options.accessTokenTtlSec;
  // No min_ttl, a short one, nearly the whole lifetime, and longer than the server ever issues (item 5).
  const minTtls = fc.constantFrom<number | undefined>(undefined, 1, Math.max(ttl - 1, 1), ttl + 30);

  // Login and logout, alone or while a refresh of the same credential is in flight (item 2's race).
  const login = fc.tuple(resourceIndex, fc.boolean(), fc.boolean()).map(([i, admin, racing]) =>
    command(
      `login #${i}${admin ? ' +admin' : ''}${racing ? ' during credential.refresh' : ''}`,
      (m) => m.fault === 'none' || m.fault === 'slow',
      async (m, w) => {
        if (racing) w.track(refresh(w, m, resourceOf(w, i)));
        await logIn(w, m, resourceOf(w, i), admin);
      },
    ),
  );

  const logout = fc.tuple(resourceIndex, fc.boolean()).map(([i, racing]) =>
    command(
      `logout #${i}${racing ? ' during credential.refresh' : ''}`,
      () => true,
      async (m, w) => {
        const resource = resourceOf(w, i);
        const cred = modelOf(m, resource);
        if (racing) w.track(refresh(w, m, resource));
        try {
          await w.client!.logout(resource);
          if (!cred.loggedIn) w.violations.push(`logout ${resource}: deleted a credential the model does not have`);
        } catch (err) {
          if ((err as AuthdError).code !== 'not_found' || cred.loggedIn) throw err;
        }
        cred.loggedIn = false;
        cred.chainRoot = undefined;
      },
    ),
  );

  const get = fc.tuple(resourceIndex, scopeSets, minTtls).map(([i, scopes, minTtl]) =>
    command(`token.get #${i} [${scopes.join(' ')}] min_ttl=${minTtl ?? '-'}`, () => true, async (m, w) => {
      await w.settleWithin(tokenGet(w, m, resourceOf(w, i), scopes, minTtl), STEP_WAIT_MS);
    }),
  );

  const forced = resourceIndex.map((i) =>
    command(`credential.refresh #${i}`, () => true, async (m, w) => {
      await w.settleWithin(refresh(w, m, resourceOf(w, i)), STEP_WAIT_MS);
    }),
  );

  const callSpec = fc.record({ i: resourceIndex, refresh: fc.boolean(), scopes: scopeSets, minTtl: minTtls });
  const concurrent = fc.array(callSpec, { minLength: 2, maxLength: 6 }).map((calls) =>
    command(
      `concurrent [${calls.map((c) => (c.refresh ? `refresh #${c.i}` : `get #${c.i} min_ttl=${c.minTtl ?? '-'}`)).join(', ')}]`,
      () => true,
      async (m, w) => {
        const all = calls.map((c) => (c.refresh ? refresh(w, m, resourceOf(w, c.i)) : tokenGet(w, m, resourceOf(w, c.i), c.scopes, c.minTtl)));
        await w.settleWithin(Promise.all(all).then(() => undefined), STEP_WAIT_MS);
      },
    ),
  );

  const pause = fc.constantFrom(300, 1500, 3000).map((ms) =>
    command(`wait ${ms} ms`, () => true, async () => {
      await new Promise((resolve) => setTimeout(resolve, ms));
    }),
  );

  // A signal at a random moment, or aimed at a refresh: credential.refresh sent, then the signal.
  const signalTiming = fc.oneof(
    fc.record({ delay: fc.nat({ max: 400 }), during: fc.constant<number | undefined>(undefined) }),
    fc.record({ delay: fc.nat({ max: 80 }), during: resourceIndex.map<number | undefined>((i) => i) }),
  );
  const aim = async (m: LifecycleModel, w: LifecycleWorld, timing: { delay: number; during: number | undefined }): Promise<void> => {
    if (timing.during !== undefined) w.track(refresh(w, m, resourceOf(w, timing.during)));
    await new Promise((resolve) => setTimeout(resolve, timing.delay));
  };
  const describeTiming = (t: { delay: number; during: number | undefined }) => `${t.delay} ms after ${t.during === undefined ? 'the last step' : `credential.refresh #${t.during}`}`;

  const sigterm = signalTiming.map((timing) =>
    command(`SIGTERM ${describeTiming(timing)}, restart`, () => true, async (m, w) => {
      await aim(m, w, timing);
      const stallLeft = w.stallEndsAt === undefined ? 0 : Math.max(w.stallEndsAt - Date.now(), 0);
      const { code, shutdownMs } = await w.restart('SIGTERM', stallLeft + SHUTDOWN_GRACE_MS);
      if (code !== 0) w.violations.push(`SIGTERM: the daemon exited with ${String(code)} after ${shutdownMs} ms`);
    }),
  );

  const sigkill = signalTiming.map((timing) =>
    command(`SIGKILL ${describeTiming(timing)}, restart`, () => true, async (m, w) => {
      await aim(m, w, timing);
      await w.restart('SIGKILL', 5_000);
    }),
  );

  const fault = fc.constantFrom(...options.faults).map((kind) =>
    command(
      `fault ${kind}`,
      (m) => m.fault === 'none' && !(kind === 'stall' && m.stalled),
      async (m, w) => {
        w.setFault(kind);
        m.fault = kind;
        if (kind === 'stall') m.stalled = true;
        if (kind === 'narrow') for (const cred of m.creds.values()) cred.mayBeNarrowed = true;
      },
    ),
  );

  // A server that cuts the grant down, met by a client asking for the cut scope with a min_ttl
  // that forces the refresh (item 6: scopes must be checked after the refresh too). The call is
  // timed to land after the token has less than min_ttl left but before the scheduler's refresh.
  const stepUpMinTtl = Math.max(ttl - 1, 1);
  const stepUpAfterNarrowing = resourceIndex.map((i) =>
    command(
      `fault narrow, then token.get #${i} [mcp:admin] min_ttl=${stepUpMinTtl} once a refresh is due for it`,
      (m) => m.fault === 'none',
      async (m, w) => {
        w.setFault('narrow');
        m.fault = 'narrow';
        for (const cred of m.creds.values()) cred.mayBeNarrowed = true;
        const resource = resourceOf(w, i);
        const expiresAt = storedExpiry(w.home!.paths.database, resource);
        const wait = expiresAt === undefined ? 0 : expiresAt - (stepUpMinTtl * 1000 - 200) - Date.now();
        if (wait > 0 && wait < ttl * 1000) await new Promise((resolve) => setTimeout(resolve, wait));
        await w.settleWithin(tokenGet(w, m, resource, ['mcp:admin'], stepUpMinTtl), STEP_WAIT_MS);
      },
    ),
  );

  const heal = fc.constant(null).map(() =>
    command(
      'heal',
      (m) => m.fault !== 'none',
      async (m, w) => {
        await w.heal();
        m.fault = 'none';
      },
    ),
  );

  const arbitraries: fc.Arbitrary<Command>[] = [login, logout, get, get, get, forced, concurrent, concurrent, pause, pause, sigterm, sigkill, sigkill, heal, heal];
  if (options.faults.length > 0) arbitraries.push(fault, fault);
  if (options.faults.includes('narrow')) arbitraries.push(stepUpAfterNarrowing);
  return arbitraries;
}

/** The last check of a run: with the server healthy, every credential not rightly lost refreshes and serves its own token. */
export async function finalCheck(world: LifecycleWorld, model: LifecycleModel): Promise<void> {
  if (world.fault !== 'none') await world.heal();
  model.fault = 'none';
  await world.drainPending();
  audit(world, model, 'final: healed and drained');
  for (const [resource, cred] of model.creds) {
    if (!cred.loggedIn || serverRejectedGrant(world, cred)) continue;
    try {
      // A refresh_failed may still be the answer of a refresh that started during the fault: ask again.
      for (let attempt = 1; ; attempt++) {
        try {
          await world.client!.refresh(resource);
          break;
        } catch (err) {
          if ((err as AuthdError).code !== 'refresh_failed' || attempt === 3) throw err;
        }
      }
      const result = await world.client!.getToken(resource);
      checkServed(world, `final token.get ${resource}`, resource, [], undefined, Date.now(), result);
      // What a user checks in the end: the MCP server itself accepts the token.
      const answer = await fetch(resource, {
        method: 'POST',
        headers: { authorization: `Bearer ${result.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
      await answer.arrayBuffer();
      if (answer.status !== 200) world.violations.push(`final: the MCP server at ${resource} answered ${answer.status} to the served token`);
    } catch (err) {
      // This refresh may itself be the re-presentation after a SIGKILL's commit window; the reuse audit judges it.
      if ((err as AuthdError).code === 'needs_login' && serverRejectedGrant(world, cred)) continue;
      world.violations.push(`final: ${resource} cannot be refreshed with the server healthy: ${(err as AuthdError).code}: ${(err as Error).message}`);
    }
  }
  // `status` tells the user the same story as the database: every login listed, nothing else.
  const listed = (await world.client!.status()).credentials.map((c) => c.resource).sort();
  const expected = [...model.creds].filter(([, cred]) => cred.loggedIn).map(([resource]) => resource).sort();
  if (JSON.stringify(listed) !== JSON.stringify(expected)) world.violations.push(`final: status lists [${listed.join(' ')}], the model has [${expected.join(' ')}]`);
  audit(world, model, 'final: every credential refreshed');
}
