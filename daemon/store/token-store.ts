/**
 * The token store: authorization servers, client registrations and
 * credentials, in one SQLite file (better-sqlite3). This file opens the
 * connection and owns the credential writes; its parts live beside it:
 * records.ts (types), schema.ts (pragmas, migrations), statements.ts (SQL),
 * credential-rows.ts (row <-> record), registrations.ts, cache.ts,
 * refresh-failure-writes.ts, sealing.ts and seal-state.ts (encryption at rest).
 *
 * - Credentials are keyed by the lookup key of their resource (see
 *   shared/resource-uri.ts); the resource string itself is stored verbatim and
 *   never rewritten, because it is sent back to the authorization server on
 *   every refresh.
 * - Every write that changes a credential is one transaction; WAL with
 *   synchronous=FULL, so a committed rotation survives a power cut.
 * - Times are Unix epoch milliseconds.
 * - Tokens leave this module only inside Secret objects.
 * - Reads of single credentials are cached in memory (frozen records), so
 *   `token.get` runs no SQL on its hot path; every credential write through
 *   this object invalidates the cache first. This object must therefore be the
 *   only writer while it is open, which the daemon's instance lock ensures.
 * - Secret columns are sealed (AES-256-GCM, sealing.ts) when a data key is
 *   given, as the daemon always does; rows are opened when read into a
 *   record, so cached reads decrypt nothing (seal-state.ts: the seal record,
 *   the key check and the migration of a plaintext database).
 */
import Database from 'better-sqlite3';
import { AuthdError } from '../../shared/errors.js';
import { resourceKey } from '../../shared/resource-uri.js';
import { assertPrivateFileIfExists } from '../os/private-path.js';
import { holdsGuard, toCredential, toListing, type CredentialRow, type ListingRow } from './credential-rows.js';
import { STORED_STATES, type AuthorizationServerRecord, type ClientRegistration, type CredentialListing, type CredentialRecord, type NewCredential, type RenewalGuard, type RotatedTokens, type StoredState } from './records.js';
import { configure, migrate } from './schema.js';
import type { Secret } from './secret.js';
import { prepareStatements, type Statements } from './statements.js';
import type { KeyProviderName } from '../../shared/key-providers.js';
import type { DataKey } from './key-provider.js';
import { establishSealing, type EncryptionState } from './seal-state.js';
import type { RowCodec } from './sealing.js';
import { CredentialCache } from './cache.js';
import * as registrations from './registrations.js';
import { IdpSessions } from './idp-sessions.js';
import * as failureWrites from './refresh-failure-writes.js';
import type { FailureDetails } from './refresh-failure-writes.js';

export type {
  AuthorizationServerRecord,
  ClientRegistration,
  CredentialListing,
  CredentialRecord,
  NewCredential,
  RegistrationKind,
  RotatedTokens,
  StoredState,
  TokenEndpointAuthMethod,
} from './records.js';
export { SCHEMA_VERSION } from './schema.js';
export type { EncryptionState } from './seal-state.js';
export { CREDENTIAL_CACHE_SIZE } from './cache.js';

export interface TokenStoreOptions {
  now?: () => number;
  /** Skip the owner-only file check; only for `:memory:` databases in tests. */
  inMemory?: boolean;
  /**
   * The data key, asked with the provider that sealed the database (null: not
   * sealed yet, so a plaintext one is sealed now). The daemon always passes
   * one; without it the store stays plaintext and refuses a sealed database
   * (tools and tests that plant rows before a daemon's first start).
   */
  dataKey?: (sealedBy: KeyProviderName | null) => DataKey;
}

export class TokenStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #stmts: Statements;
  /** Reads of single credentials, so token.get runs no SQL on its hot path (see cache.ts). */
  readonly #cache = new CredentialCache();
  /** Sessions at company identity providers (idp-sessions.ts). */
  readonly idpSessions: IdpSessions;
  /** Seals secret columns on the way in and opens them on the way out (PLAINTEXT without a key). */
  readonly #codec: RowCodec;
  readonly encryption: EncryptionState | null;

  private constructor(db: Database.Database, now: () => number, codec: RowCodec, encryption: EncryptionState | null) {
    this.#db = db;
    this.#now = now;
    this.#stmts = prepareStatements(db);
    this.#codec = codec;
    this.idpSessions = new IdpSessions(db, now, codec);
    this.encryption = encryption;
  }

  /**
   * Opens (creating when missing) and migrates the database. The caller sets
   * umask 077 first so SQLite creates the file and its -wal/-shm owner-only;
   * here we refuse files that are already looser.
   */
  static open(path: string, options: TokenStoreOptions = {}): TokenStore {
    const files = options.inMemory === true ? [] : [path, `${path}-wal`, `${path}-shm`, `${path}-journal`];
    for (const file of files) assertPrivateFileIfExists(file);
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (err) {
      throw new AuthdError('STORE_UNAVAILABLE', `cannot open the database ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      configure(db, path);
      const now = options.now ?? Date.now;
      const sealing = establishSealing(db, path, options.dataKey, () => migrate(db, path), now());
      for (const file of files) assertPrivateFileIfExists(file);
      const store = new TokenStore(db, now, sealing.codec, sealing.encryption);
      // The plaintext pages a sealing migration replaced leave the WAL now, not at the next write.
      if (sealing.sealedNow) store.#scrubWal();
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.#cache.forgetAll();
    if (this.#db.open) this.#db.close();
  }

  /** The connection, for the audit and policy tables (issue 18); never for credential tables, which only this object writes. */
  get connection(): Database.Database {
    return this.#db;
  }

  get schemaVersion(): number {
    return this.#db.pragma('user_version', { simple: true }) as number;
  }

  // ------------------------------------------------------ authorization servers and client registrations (registrations.ts)

  saveAuthorizationServer(issuer: string, metadata: Record<string, unknown>): void {
    registrations.saveAuthorizationServer(this.#stmts, issuer, metadata, this.#now());
  }

  getAuthorizationServer(issuer: string): AuthorizationServerRecord | undefined {
    return registrations.getAuthorizationServer(this.#stmts, issuer);
  }

  saveClientRegistration(reg: Omit<ClientRegistration, 'createdAt'>): ClientRegistration {
    return registrations.saveClientRegistration(this.#stmts, this.#codec, reg, this.#now());
  }

  /** The newest registration for an issuer, or the one with this client id. */
  getClientRegistration(issuer: string, clientId?: string): ClientRegistration | undefined {
    return registrations.getClientRegistration(this.#stmts, this.#codec, issuer, clientId);
  }

  /** Stores a registration_access_token the AS rotated (RFC 7592 §2.1). */
  updateRegistrationAccessToken(issuer: string, clientId: string, token: Secret): void {
    registrations.updateRegistrationAccessToken(this.#stmts, this.#codec, issuer, clientId, token);
  }

  /** True when some credential refreshes with this client. */
  isClientInUse(issuer: string, clientId: string): boolean {
    return registrations.isClientInUse(this.#stmts, issuer, clientId);
  }

  deleteClientRegistration(issuer: string, clientId: string): boolean {
    const deleted = registrations.deleteClientRegistration(this.#stmts, issuer, clientId);
    this.#scrubWal();
    return deleted;
  }

  // ------------------------------------------------------ credentials

  /**
   * Stores the result of a login: replaces any credential for the same
   * resource and maps the MCP server URL to it, in one transaction.
   */
  saveCredential(input: NewCredential): CredentialRecord {
    const key = resourceKey(input.resource);
    const serverKey = resourceKey(input.serverUrl);
    const now = this.#now();
    this.#db.transaction(() => {
      const existing = this.#stmts.getCredential.get(key) as CredentialRow | undefined;
      this.#stmts.upsertCredential.run(this.#codec.sealRow('credentials', {
        resource_key: key,
        resource: input.resource,
        issuer: input.issuer,
        client_id: input.clientId,
        scopes: input.scopes.join(' '),
        access_token: input.accessToken.reveal(),
        token_type: input.tokenType,
        expires_at: input.expiresAt,
        refresh_token: input.refreshToken?.reveal() ?? null,
        refresh_at: input.refreshAt,
        created_at: existing?.created_at ?? now,
        updated_at: now,
        grant_kind: input.grantKind ?? 'authorization_code',
        login_options: input.loginOptions === undefined || input.loginOptions === null ? null : JSON.stringify(input.loginOptions),
        dpop_key: input.dpopKey?.reveal() ?? null,
      }));
      this.#stmts.upsertServer.run({ server_key: serverKey, server_url: input.serverUrl, resource_key: key });
    })();
    this.#scrubWal();
    // A server URL may have moved from another credential: forget every cached read.
    this.#cache.forgetAll();
    return this.#mustGet(key);
  }

  /** Exact lookup by resource (canonical key); never a prefix or "closest" match. */
  findByResource(resource: string): CredentialRecord | undefined {
    return this.getByKey(this.#cache.keyOf(resource));
  }

  /** Exact lookup by an MCP server URL a credential was obtained for. */
  findByServerUrl(serverUrl: string): CredentialRecord | undefined {
    const hit = this.#cache.byServerUrl(serverUrl);
    if (hit !== undefined) return hit;
    const record = this.#findByServerUrl(serverUrl);
    if (record !== undefined && this.#cacheable()) this.#cache.rememberServerUrl(serverUrl, record);
    return record;
  }

  #findByServerUrl(serverUrl: string): CredentialRecord | undefined {
    const serverKey = this.#cache.keyOf(serverUrl);
    const known = this.#cache.serverKey(serverKey);
    if (known === null) return undefined;
    if (known !== undefined) {
      const cached = this.#cache.byKey(known);
      if (cached !== undefined) return cached;
    }
    const row = this.#stmts.getByServer.get(serverKey) as CredentialRow | undefined;
    const record = row === undefined ? undefined : this.#record(row);
    if (this.#cacheable()) {
      this.#cache.rememberServerKey(serverKey, record === undefined ? null : record.resourceKey);
      if (record !== undefined) this.#cache.rememberKey(record.resourceKey, record);
    }
    return record;
  }

  getByKey(key: string): CredentialRecord | undefined {
    const cached = this.#cache.byKey(key);
    if (cached !== undefined) return cached;
    const row = this.#stmts.getCredential.get(key) as CredentialRow | undefined;
    if (row === undefined) return undefined;
    const record = this.#record(row);
    if (this.#cacheable()) this.#cache.rememberKey(key, record);
    return record;
  }

  list(): CredentialRecord[] {
    return (this.#stmts.listCredentials.all() as CredentialRow[]).map((row) => this.#record(row));
  }

  /**
   * Up to `limit` credentials in resource-key order, without their tokens:
   * those after the key `from.after` (paging by key: rows added or removed
   * meanwhile shift nothing), or from position `from.offset`.
   */
  listSummaries(from: { after: string } | { offset: number }, limit: number): CredentialListing[] {
    const rows = ('after' in from ? this.#stmts.listingAfter.all({ after: from.after, limit }) : this.#stmts.listingAt.all({ offset: from.offset, limit })) as ListingRow[];
    return rows.map(toListing);
  }

  count(): number {
    return (this.#stmts.countCredentials.get() as { n: number }).n;
  }

  deleteCredential(key: string): boolean {
    // Its server URLs go with it (ON DELETE CASCADE): forget every cached read.
    this.#cache.forgetAll();
    const deleted = this.#stmts.deleteCredential.run(key).changes > 0;
    this.#scrubWal();
    return deleted;
  }

  /**
   * Stores a rotation atomically, but only if the credential still holds the
   * refresh token that was presented: a rotation is never applied on top of a
   * newer one, and the old refresh token is retired in the same commit that
   * stores the new one (checklist T2).
   * @returns the updated record, or undefined when the credential changed meanwhile.
   */
  rotateTokens(key: string, presented: RenewalGuard, tokens: RotatedTokens): CredentialRecord | undefined {
    const now = this.#now();
    this.#cache.forget(key);
    const changed = this.#db.transaction(() => {
      const row = this.#openedRow(key);
      if (row === undefined || !holdsGuard(row, presented)) return false;
      this.#stmts.rotate.run(this.#codec.sealRow('credentials', {
        resource_key: key,
        access_token: tokens.accessToken.reveal(),
        token_type: tokens.tokenType,
        expires_at: tokens.expiresAt,
        // RFC 6749 §6: no new refresh token means the old one stays valid.
        refresh_token: tokens.refreshToken?.reveal() ?? row.refresh_token,
        refresh_at: tokens.refreshAt,
        scopes: tokens.scopes === undefined ? row.scopes : tokens.scopes.join(' '),
        now,
      }));
      return true;
    })();
    if (changed) this.#scrubWal();
    return changed ? this.#mustGet(key) : undefined;
  }

  /**
   * Records how a refresh failed, and on invalid_client drops the
   * registration, only if the credential still holds the presented refresh
   * token (refresh-failure-writes.ts). One transaction.
   * @returns false when the credential changed or went meanwhile (nothing written).
   */
  markRefreshFailure(key: string, presented: RenewalGuard, state: 'error' | 'needs_login', details: FailureDetails, dropRegistration?: { issuer: string; clientId: string }): boolean {
    this.#cache.forget(key);
    return failureWrites.markRefreshFailure(this.#writeContext(), key, presented, state, details, dropRegistration);
  }

  /**
   * A refresh answered 200 with an answer that failed our checks: keeps the
   * refresh token it issued and marks the credential `error`, only if the
   * credential still holds the presented one (refresh-failure-writes.ts).
   * @returns false when the credential changed or went meanwhile (nothing written).
   */
  keepIssuedRefreshToken(key: string, presented: Secret, issued: Secret, details: FailureDetails): boolean {
    this.#cache.forget(key);
    return failureWrites.keepIssuedRefreshToken(this.#writeContext(), key, presented, issued, details);
  }

  /** Records a state change (refreshing, needs_login, error) with its reason and next attempt. */
  setState(key: string, state: StoredState, details: { lastError?: string | null; nextAttemptAt?: number | null; failureCount?: number } = {}): void {
    if (!STORED_STATES.includes(state)) throw new TypeError(`unknown state ${state}`);
    this.#cache.forget(key);
    this.#stmts.setState.run({
      resource_key: key,
      state,
      last_error: details.lastError === undefined ? null : details.lastError,
      keep_error: details.lastError === undefined ? 1 : 0,
      next_attempt_at: details.nextAttemptAt ?? null,
      failure_count: details.failureCount ?? null,
      now: this.#now(),
    });
  }

  /** Credentials whose refresh is due at or before `at` (refresh_at or a retry time), earliest first. */
  dueForRefresh(at: number, limit: number): CredentialRecord[] {
    return (this.#stmts.due.all({ at, limit }) as CredentialRow[]).map((row) => this.#record(row));
  }

  /** The earliest time any credential wants a refresh, or null when none does. */
  nextDueAt(): number | null {
    const row = this.#stmts.nextDue.get() as { at: number | null };
    return row.at;
  }

  /** Runs `fn` in one transaction (for callers that change several rows together). */
  transaction<T>(fn: () => T): T {
    const result = this.#db.transaction(fn)();
    this.#scrubWal();
    return result;
  }

  /**
   * After a write that retires secrets (rotation, logout, a new login over an
   * old one): copy the WAL into the database and truncate it, so the old
   * tokens' page images do not linger in `-wal` (issue 13 item 7; cost in
   * docs/benchmarks.md). Inside an outer transaction it waits for that one.
   * A checkpoint that cannot finish (a reader holds the WAL) is retried by the
   * next write; it never fails the write that asked for it.
   */
  #scrubWal(): void {
    if (this.#db.inTransaction || !this.#db.open) return;
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Only SQLITE_BUSY/LOCKED can get here; the data is committed either way.
    }
  }

  /**
   * Nothing read inside a transaction is cached: the transaction may still
   * roll back, and the cache must only ever hold committed rows.
   */
  #cacheable(): boolean {
    return !this.#db.inTransaction;
  }

  #writeContext(): failureWrites.WriteContext {
    return { db: this.#db, stmts: this.#stmts, codec: this.#codec, now: this.#now(), openedRow: (key) => this.#openedRow(key) };
  }

  /** A row read into a record: its secret columns are opened here, once, and the record is what the cache keeps. */
  #record(row: CredentialRow): CredentialRecord {
    return toCredential(this.#codec.openRow('credentials', row));
  }

  /** The row of `key` with its secret columns opened (for the conditional writes, which compare the refresh token). */
  #openedRow(key: string): CredentialRow | undefined {
    const row = this.#stmts.getCredential.get(key) as CredentialRow | undefined;
    return row === undefined ? undefined : this.#codec.openRow('credentials', row);
  }

  #mustGet(key: string): CredentialRecord {
    const record = this.getByKey(key);
    if (record === undefined) throw new AuthdError('internal', 'credential vanished during its own write');
    return record;
  }
}
