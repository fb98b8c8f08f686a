/**
 * The invariants the lifecycle model test checks after every step, computed
 * from what the user could check: the database file, and what the
 * authorization server saw on the wire (fingerprints of every refresh token
 * presented and handed out, when each answer went out, and when a client gave
 * up waiting).
 *
 * - No refresh token reaches oidc-provider again after it was rotated, unless
 *   a SIGKILL cut the daemon between the server's answer and its commit; each
 *   such case is counted and attributed to its kill.
 * - No credential is lost (deleted, or needs_login) unless the user logged
 *   out, or the server rejected the credential's current grant.
 * - Every stored access token is for its own resource; integrity_check ok.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { decodeJwtPayload } from '../../daemon/oauth/token-response.js';
import { paramValues, type RecordedRequest } from '../fixtures/auth-server.js';
import type { LifecycleWorld } from './lifecycle-world.js';
import { openRawCredentialRows } from './sealed-store.js';
import type { Paths } from '../../shared/paths.js';

/**
 * Time the daemon may take, after the server's answer went out, to receive it
 * and commit it (a small SQLite transaction) on a loaded 2-core machine. A
 * SIGKILL later than this after the answer left a committed rotation behind.
 */
export const COMMIT_WINDOW_MS = 5_000;

/** What the model believes about one resource. */
export interface CredentialModel {
  loggedIn: boolean;
  scopes: string[];
  /** Fingerprint of the refresh token the current login got: the root of its rotation chain. */
  chainRoot: string | undefined;
  /** A refresh since the login may have been narrowed by the server: `scopes` is an upper bound. */
  mayBeNarrowed: boolean;
}

export interface StoredRow {
  resource: string;
  access_token: string;
  state: string;
  last_error: string | null;
}

export interface ReuseCase {
  resource: string;
  /** The kill that cut the first presentation's commit window, as an index into world.kills. */
  kill: number;
  /** ms between the server's answer and the kill (negative: the kill came first). */
  answerToKillMs: number | null;
}

export interface AuditResult {
  violations: string[];
  permittedReuse: ReuseCase[];
}

export function readStore(paths: Paths): { integrity: unknown; rows: StoredRow[] } | undefined {
  if (!existsSync(paths.database)) return undefined;
  const db = new Database(paths.database, { readonly: true, fileMustExist: true });
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }),
      // Tokens are sealed at rest (issue 17): opened with the key file, as the daemon does.
      rows: openRawCredentialRows(paths, db.prepare('SELECT resource_key, resource, access_token, state, last_error FROM credentials').all() as (StoredRow & { resource_key: string })[]),
    };
  } finally {
    db.close();
  }
}

/** When the stored access token for `resource` expires (epoch ms), if stored. */
export function storedExpiry(path: string, resource: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT expires_at FROM credentials WHERE resource = ?').get(resource) as { expires_at: number | null } | undefined;
    return row?.expires_at ?? undefined;
  } finally {
    db.close();
  }
}

/** Refresh requests that oidc-provider itself handled, in arrival order. */
function providerRefreshes(requests: RecordedRequest[]): RecordedRequest[] {
  return requests.filter((r) => r.grantType === 'refresh_token' && r.reachedProvider === true);
}

function presented(request: RecordedRequest): string | undefined {
  return paramValues(request, 'refresh_token')[0];
}

/**
 * Every refresh token presented to oidc-provider after it had already been
 * rotated, with the SIGKILL that explains it, or a violation naming the most
 * likely cause.
 */
export function auditReuse(world: LifecycleWorld): AuditResult {
  const refreshes = providerRefreshes(world.as.requests('token'));
  const violations: string[] = [];
  const permittedReuse: ReuseCase[] = [];
  // Whatever the first presentation's outcome (rotated, or still held by a stalled server),
  // a second one risks the grant: oidc-provider revokes it on reuse.
  const firstPresentation = new Map<string, RecordedRequest>();
  for (const request of refreshes) {
    const token = presented(request);
    if (token === undefined) continue;
    const first = firstPresentation.get(token);
    if (first === undefined) {
      firstPresentation.set(token, request);
      continue;
    }
    const resource = paramValues(request, 'resource')[0] ?? '(no resource)';
    const killIndex = world.kills.findIndex((kill) => {
      if (kill < first.at || kill > request.at) return false;
      // The daemon was still waiting for the answer, or had it only just: the kill cut the commit.
      const answerInWindow = first.finishedAt === undefined || first.finishedAt >= kill - COMMIT_WINDOW_MS;
      const stillWaiting = first.clientGoneAt === undefined || first.clientGoneAt >= kill - 5;
      return answerInWindow && stillWaiting;
    });
    if (killIndex >= 0) {
      const kill = world.kills[killIndex] as number;
      permittedReuse.push({ resource, kill: killIndex, answerToKillMs: first.finishedAt === undefined ? null : kill - first.finishedAt });
      continue;
    }
    const gaveUp = first.clientGoneAt !== undefined && (first.finishedAt === undefined || first.clientGoneAt < first.finishedAt);
    const term = world.terms.find((t) => t >= first.at && t <= request.at);
    const cause = gaveUp
      ? `the daemon gave up waiting ${first.clientGoneAt! - first.at} ms after sending it, the server ${first.issuedRefreshToken === undefined ? 'answered' : 'rotated it'} later (item 1: abandoned refresh)`
      : term !== undefined
        ? `a SIGTERM at +${term - first.at} ms came between the rotation and this presentation (item 3: shutdown lost the rotated token)`
        : `the rotation answered ${first.finishedAt === undefined ? '?' : first.finishedAt - first.at} ms after it was sent was never stored`;
    violations.push(`refresh token presented twice for ${resource}: first at ${iso(first.at)}, again at ${iso(request.at)}; ${cause}`);
  }
  return { violations, permittedReuse };
}

/** The refresh tokens of the current login's chain: its root and every rotation from it. */
function chainOf(root: string, refreshes: RecordedRequest[]): Set<string> {
  const chain = new Set([root]);
  for (const request of refreshes) {
    const token = presented(request);
    // Rotated even when the client had gone before the answer (no status recorded then).
    if (token !== undefined && chain.has(token) && request.issuedRefreshToken !== undefined) chain.add(request.issuedRefreshToken);
  }
  return chain;
}

/** True when the server answered invalid_grant to a refresh of the current grant. */
export function serverRejectedGrant(world: LifecycleWorld, model: CredentialModel): boolean {
  if (model.chainRoot === undefined) return false;
  const refreshes = world.as.requests('token').filter((r) => r.grantType === 'refresh_token');
  const chain = chainOf(model.chainRoot, refreshes);
  return refreshes.some((r) => r.status === 400 && chain.has(presented(r) ?? ''));
}

/** The fingerprint of the refresh token the latest successful code exchange for `resource` handed out. */
export function loginChainRoot(world: LifecycleWorld, resource: string): string | undefined {
  const exchanges = world.as
    .requests('token')
    .filter((r) => r.grantType === 'authorization_code' && r.status === 200 && paramValues(r, 'resource').includes(resource));
  return exchanges.at(-1)?.issuedRefreshToken;
}

/** The database against the model: intact, every token its own resource's, nothing lost. */
export function auditStore(world: LifecycleWorld, models: Map<string, CredentialModel>): string[] {
  const store = readStore(world.home!.paths);
  if (store === undefined) return [];
  const violations: string[] = [];
  if (store.integrity !== 'ok') violations.push(`integrity_check: ${String(store.integrity)}`);
  for (const row of store.rows) {
    const aud = decodeJwtPayload(row.access_token)?.['aud'];
    if (aud !== row.resource) violations.push(`stored access token for ${row.resource} has aud ${String(aud)}`);
  }
  for (const [resource, model] of models) {
    const row = store.rows.find((r) => r.resource === resource);
    if (!model.loggedIn) {
      if (row !== undefined) violations.push(`${resource} was logged out but is stored again (state ${row.state})`);
      continue;
    }
    if (row === undefined) {
      violations.push(`${resource} is logged in but its credential is gone`);
      continue;
    }
    if (row.state === 'needs_login' && !serverRejectedGrant(world, model)) {
      violations.push(`${resource} lost: needs_login though the server never rejected its current grant (last_error: ${row.last_error ?? 'none'})`);
    }
  }
  return violations;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
