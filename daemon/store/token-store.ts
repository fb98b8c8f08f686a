/**
 * The only SQL in mcpauthd: authorization servers, client registrations and
 * credentials, in one SQLite file (better-sqlite3).
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
 */
import Database from 'better-sqlite3';
import { AuthdError } from '../../shared/errors.js';
import { resourceKey } from '../../shared/resource-uri.js';
import { assertPrivateFileIfExists } from '../os/private-path.js';
import { Secret, secretOrNull } from './secret.js';

/** States kept on disk. `expiring` and `expired` are derived from the clock when read. */
export type StoredState = 'valid' | 'refreshing' | 'needs_login' | 'error';
const STORED_STATES: readonly StoredState[] = ['valid', 'refreshing', 'needs_login', 'error'];

export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';
export type RegistrationKind = 'dynamic' | 'preregistered' | 'metadata_document';

export interface ClientRegistration {
  issuer: string;
  clientId: string;
  clientSecret: Secret | null;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  registrationAccessToken: Secret | null;
  registrationClientUri: string | null;
  redirectUris: string[];
  kind: RegistrationKind;
  createdAt: number;
}

export interface AuthorizationServerRecord {
  issuer: string;
  /** RFC 8414 metadata as received (JSON object). */
  metadata: Record<string, unknown>;
  fetchedAt: number;
}

export interface CredentialRecord {
  resource: string;
  resourceKey: string;
  serverUrls: string[];
  issuer: string;
  clientId: string;
  scopes: string[];
  accessToken: Secret;
  tokenType: string;
  expiresAt: number | null;
  refreshToken: Secret | null;
  refreshAt: number | null;
  state: StoredState;
  lastRefreshAt: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  failureCount: number;
  createdAt: number;
  updatedAt: number;
}

/** A credential without its tokens: what `status` reads. */
export type CredentialListing = Omit<CredentialRecord, 'accessToken' | 'refreshToken' | 'tokenType'> & { hasRefreshToken: boolean };

/** What a login produces: the record's own fields and the one server URL used; the store fills in the bookkeeping. */
export type NewCredential = Pick<
  CredentialRecord,
  'resource' | 'issuer' | 'clientId' | 'scopes' | 'accessToken' | 'tokenType' | 'expiresAt' | 'refreshToken' | 'refreshAt'
> & { serverUrl: string };

/** What a refresh produces. A missing refresh token keeps the old one (RFC 6749 §6). */
export interface RotatedTokens {
  accessToken: Secret;
  tokenType: string;
  expiresAt: number | null;
  refreshToken: Secret | null;
  refreshAt: number | null;
  scopes?: string[];
}

export const SCHEMA_VERSION = 2;

/**
 * Credentials kept in the read cache; beyond this the oldest entry goes. A
 * cached record costs about 1.5 kB (mostly its tokens), so a full cache is
 * about 25 MB: well inside the memory budget for 10,000 credentials.
 */
export const CREDENTIAL_CACHE_SIZE = 16_384;

/**
 * Forward migrations, index = the version it produces minus one. Each runs in
 * one transaction together with the user_version bump.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE authorization_servers (
    issuer      TEXT PRIMARY KEY,
    metadata    TEXT NOT NULL,
    fetched_at  INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE client_registrations (
    issuer                      TEXT NOT NULL,
    client_id                   TEXT NOT NULL,
    client_secret               TEXT,
    token_endpoint_auth_method  TEXT NOT NULL CHECK (token_endpoint_auth_method IN ('none','client_secret_basic','client_secret_post')),
    registration_access_token   TEXT,
    registration_client_uri     TEXT,
    redirect_uris               TEXT NOT NULL,
    kind                        TEXT NOT NULL CHECK (kind IN ('dynamic','preregistered','metadata_document')),
    created_at                  INTEGER NOT NULL,
    PRIMARY KEY (issuer, client_id)
  ) STRICT;

  CREATE TABLE credentials (
    resource_key     TEXT PRIMARY KEY,
    resource         TEXT NOT NULL,
    issuer           TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    access_token     TEXT NOT NULL CHECK (length(access_token) > 0),
    token_type       TEXT NOT NULL,
    expires_at       INTEGER,
    refresh_token    TEXT,
    refresh_at       INTEGER,
    state            TEXT NOT NULL CHECK (state IN ('valid','refreshing','needs_login','error')),
    last_refresh_at  INTEGER,
    last_error       TEXT,
    next_attempt_at  INTEGER,
    failure_count    INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
  ) STRICT;

  CREATE INDEX credentials_refresh_at ON credentials (refresh_at);

  -- Several MCP server URLs can share one resource (PRM may name the origin).
  CREATE TABLE credential_servers (
    server_key    TEXT PRIMARY KEY,
    server_url    TEXT NOT NULL,
    resource_key  TEXT NOT NULL REFERENCES credentials (resource_key) ON DELETE CASCADE
  ) STRICT;

  CREATE INDEX credential_servers_resource ON credential_servers (resource_key);
  `,
  // 2: the scheduler asks "what is due, earliest first" after every refresh and
  // every sweep (dueForRefresh, nextDueAt). Without an index on exactly that
  // expression each question scanned every credential: 3.4 ms per pump at
  // 10,000 credentials (docs/benchmarks.md); with it, O(log n).
  `
  CREATE INDEX credentials_due ON credentials (COALESCE(next_attempt_at, refresh_at))
    WHERE refresh_token IS NOT NULL AND state IN ('valid','refreshing','error');
  `,
];

interface CredentialRow {
  resource_key: string;
  resource: string;
  issuer: string;
  client_id: string;
  scopes: string;
  access_token: string;
  token_type: string;
  expires_at: number | null;
  refresh_token: string | null;
  refresh_at: number | null;
  state: string;
  last_refresh_at: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  failure_count: number;
  created_at: number;
  updated_at: number;
  server_urls: string | null;
}

interface RegistrationRow {
  issuer: string;
  client_id: string;
  client_secret: string | null;
  token_endpoint_auth_method: string;
  registration_access_token: string | null;
  registration_client_uri: string | null;
  redirect_uris: string;
  kind: string;
  created_at: number;
}

const SELECT_CREDENTIAL = `
  SELECT c.*, (SELECT json_group_array(server_url) FROM credential_servers s WHERE s.resource_key = c.resource_key) AS server_urls
  FROM credentials c`;

/** Every column but the tokens: status never decodes a token. */
const SELECT_LISTING = `
  SELECT c.resource_key, c.resource, c.issuer, c.client_id, c.scopes, c.expires_at, c.refresh_token IS NOT NULL AS has_refresh_token,
    c.refresh_at, c.state, c.last_refresh_at, c.last_error, c.next_attempt_at, c.failure_count, c.created_at, c.updated_at,
    (SELECT json_group_array(server_url) FROM credential_servers s WHERE s.resource_key = c.resource_key) AS server_urls
  FROM credentials c`;

type ListingRow = Omit<CredentialRow, 'access_token' | 'refresh_token' | 'token_type'> & { has_refresh_token: number };

export interface TokenStoreOptions {
  now?: () => number;
  /** Skip the owner-only file check; only for `:memory:` databases in tests. */
  inMemory?: boolean;
}

export class TokenStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #stmts: ReturnType<typeof prepareStatements>;
  /** Read cache: resource key → record as last read from the database. */
  readonly #byKey = new Map<string, CredentialRecord>();
  /** Read cache: server key → resource key, or null for "no credential has this server URL". */
  readonly #serverKeys = new Map<string, string | null>();
  /** URL as asked for → its lookup key (a pure function, memoised: parsing a URL costs more than the lookup). */
  readonly #keys = new Map<string, string>();
  /**
   * Read cache, first level: a server URL exactly as it was asked for → the
   * record found for it. One lookup instead of three on token.get's path: with
   * 10,000 credentials asked for at random, the cache misses of the three were
   * an eighth of the daemon's busy time (docs/benchmarks.md). Emptied by every
   * credential write, whichever credential it touches, so it can never hold a
   * record the levels below have forgotten; it refills on the next reads.
   */
  readonly #byServerUrl = new Map<string, CredentialRecord>();

  private constructor(db: Database.Database, now: () => number) {
    this.#db = db;
    this.#now = now;
    this.#stmts = prepareStatements(db);
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
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      // A deleted or overwritten row's bytes are zeroed, not left in free page space (issue 13 item 7).
      db.pragma('secure_delete = ON');
      // SQLite's own default (better-sqlite3 builds with 16 MB): hot reads are
      // served from this object's record cache, and the scheduler's queries are
      // indexed, so a bigger page cache only held the whole file in memory after
      // the start-up integrity check (+16 MB at 10,000 credentials).
      db.pragma('cache_size = -2000');
      const integrity = db.pragma('integrity_check', { simple: true });
      if (integrity !== 'ok') {
        throw new AuthdError('STORE_UNAVAILABLE', `database ${path} failed its integrity check (${String(integrity)}); move it aside and log in again`);
      }
      migrate(db, path);
      for (const file of files) assertPrivateFileIfExists(file);
      return new TokenStore(db, options.now ?? Date.now);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.#forgetAll();
    if (this.#db.open) this.#db.close();
  }

  get schemaVersion(): number {
    return this.#db.pragma('user_version', { simple: true }) as number;
  }

  // ------------------------------------------------------ authorization servers

  saveAuthorizationServer(issuer: string, metadata: Record<string, unknown>): void {
    this.#stmts.upsertAs.run({ issuer, metadata: JSON.stringify(metadata), fetched_at: this.#now() });
  }

  getAuthorizationServer(issuer: string): AuthorizationServerRecord | undefined {
    const row = this.#stmts.getAs.get(issuer) as { issuer: string; metadata: string; fetched_at: number } | undefined;
    if (row === undefined) return undefined;
    return { issuer: row.issuer, metadata: JSON.parse(row.metadata) as Record<string, unknown>, fetchedAt: row.fetched_at };
  }

  // ------------------------------------------------------ client registrations

  saveClientRegistration(reg: Omit<ClientRegistration, 'createdAt'>): ClientRegistration {
    const createdAt = this.#now();
    this.#stmts.upsertRegistration.run({
      issuer: reg.issuer,
      client_id: reg.clientId,
      client_secret: reg.clientSecret?.reveal() ?? null,
      token_endpoint_auth_method: reg.tokenEndpointAuthMethod,
      registration_access_token: reg.registrationAccessToken?.reveal() ?? null,
      registration_client_uri: reg.registrationClientUri,
      redirect_uris: JSON.stringify(reg.redirectUris),
      kind: reg.kind,
      created_at: createdAt,
    });
    return { ...reg, createdAt };
  }

  /** The newest registration for an issuer, optionally of one kind. */
  getClientRegistration(issuer: string, clientId?: string): ClientRegistration | undefined {
    const row = (clientId === undefined ? this.#stmts.newestRegistration.get(issuer) : this.#stmts.getRegistration.get(issuer, clientId)) as
      | RegistrationRow
      | undefined;
    return row === undefined ? undefined : toRegistration(row);
  }

  /** Stores a registration_access_token the AS rotated (RFC 7592 §2.1). */
  updateRegistrationAccessToken(issuer: string, clientId: string, token: Secret): void {
    this.#stmts.updateRegistrationToken.run(token.reveal(), issuer, clientId);
  }

  /** True when some credential refreshes with this client. */
  isClientInUse(issuer: string, clientId: string): boolean {
    return this.#stmts.clientInUse.get(issuer, clientId) !== undefined;
  }

  deleteClientRegistration(issuer: string, clientId: string): boolean {
    const deleted = this.#stmts.deleteRegistration.run(issuer, clientId).changes > 0;
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
      this.#stmts.upsertCredential.run({
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
      });
      this.#stmts.upsertServer.run({ server_key: serverKey, server_url: input.serverUrl, resource_key: key });
    })();
    this.#scrubWal();
    // A server URL may have moved from another credential: forget every cached read.
    this.#forgetAll();
    return this.#mustGet(key);
  }

  /** Exact lookup by resource (canonical key); never a prefix or "closest" match. */
  findByResource(resource: string): CredentialRecord | undefined {
    return this.getByKey(this.#keyOf(resource));
  }

  /** Exact lookup by an MCP server URL a credential was obtained for. */
  findByServerUrl(serverUrl: string): CredentialRecord | undefined {
    const hit = this.#byServerUrl.get(serverUrl);
    if (hit !== undefined) return hit;
    const record = this.#findByServerUrl(serverUrl);
    if (record !== undefined && this.#cacheable()) this.#remember(this.#byServerUrl, serverUrl, record);
    return record;
  }

  #findByServerUrl(serverUrl: string): CredentialRecord | undefined {
    const serverKey = this.#keyOf(serverUrl);
    const known = this.#serverKeys.get(serverKey);
    if (known === null) return undefined;
    if (known !== undefined) {
      const cached = this.#byKey.get(known);
      if (cached !== undefined) return cached;
    }
    const row = this.#stmts.getByServer.get(serverKey) as CredentialRow | undefined;
    const record = row === undefined ? undefined : toCredential(row);
    if (this.#cacheable()) {
      this.#remember(this.#serverKeys, serverKey, record === undefined ? null : record.resourceKey);
      if (record !== undefined) this.#remember(this.#byKey, record.resourceKey, record);
    }
    return record;
  }

  getByKey(key: string): CredentialRecord | undefined {
    const cached = this.#byKey.get(key);
    if (cached !== undefined) return cached;
    const row = this.#stmts.getCredential.get(key) as CredentialRow | undefined;
    if (row === undefined) return undefined;
    const record = toCredential(row);
    if (this.#cacheable()) this.#remember(this.#byKey, key, record);
    return record;
  }

  list(): CredentialRecord[] {
    return (this.#stmts.listCredentials.all() as CredentialRow[]).map(toCredential);
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
    this.#forgetAll();
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
  rotateTokens(key: string, presented: Secret | null, tokens: RotatedTokens): CredentialRecord | undefined {
    const now = this.#now();
    this.#byKey.delete(key);
    this.#byServerUrl.clear();
    const changed = this.#db.transaction(() => {
      const row = this.#stmts.getCredential.get(key) as CredentialRow | undefined;
      if (row === undefined || row.refresh_token !== (presented?.reveal() ?? null)) return false;
      this.#stmts.rotate.run({
        resource_key: key,
        access_token: tokens.accessToken.reveal(),
        token_type: tokens.tokenType,
        expires_at: tokens.expiresAt,
        // RFC 6749 §6: no new refresh token means the old one stays valid.
        refresh_token: tokens.refreshToken?.reveal() ?? row.refresh_token,
        refresh_at: tokens.refreshAt,
        scopes: tokens.scopes === undefined ? row.scopes : tokens.scopes.join(' '),
        now,
      });
      return true;
    })();
    if (changed) this.#scrubWal();
    return changed ? this.#mustGet(key) : undefined;
  }

  /**
   * Records how a refresh failed (error, needs_login), and on invalid_client
   * drops the registration, but only if the credential still holds the
   * refresh token that refresh presented, like rotateTokens: a slow refresh
   * that fails after a new login must not mark the new credential, nor delete
   * the registration it uses. One transaction.
   * @returns false when the credential changed or went meanwhile (nothing written).
   */
  markRefreshFailure(
    key: string,
    presented: Secret,
    state: 'error' | 'needs_login',
    details: { lastError: string; nextAttemptAt: number | null; failureCount: number },
    dropRegistration?: { issuer: string; clientId: string },
  ): boolean {
    this.#byKey.delete(key);
    this.#byServerUrl.clear();
    return this.#db.transaction(() => {
      const row = this.#stmts.getCredential.get(key) as CredentialRow | undefined;
      if (row === undefined || row.refresh_token !== presented.reveal()) return false;
      this.#stmts.setState.run({
        resource_key: key,
        state,
        last_error: details.lastError,
        keep_error: 0,
        next_attempt_at: details.nextAttemptAt,
        failure_count: details.failureCount,
        now: this.#now(),
      });
      if (dropRegistration !== undefined) this.#stmts.deleteRegistration.run(dropRegistration.issuer, dropRegistration.clientId);
      return true;
    })();
  }

  /**
   * A refresh answered 200 with an answer that failed our checks: the grant
   * now lives in the refresh token that answer issued (the server may have
   * retired the presented one), so it replaces the stored one; the access
   * token, its expiry and scopes stay as they were (the rejected access token
   * is never stored), and the credential is marked `error`. Conditional on
   * the presented refresh token, in one transaction, like rotateTokens.
   * @returns false when the credential changed or went meanwhile (nothing written).
   */
  keepIssuedRefreshToken(
    key: string,
    presented: Secret,
    issued: Secret,
    details: { lastError: string; nextAttemptAt: number | null; failureCount: number },
  ): boolean {
    this.#byKey.delete(key);
    this.#byServerUrl.clear();
    return this.#db.transaction(() => {
      const row = this.#stmts.getCredential.get(key) as CredentialRow | undefined;
      if (row === undefined || row.refresh_token !== presented.reveal()) return false;
      const now = this.#now();
      this.#stmts.replaceRefreshToken.run({ resource_key: key, refresh_token: issued.reveal(), now });
      this.#stmts.setState.run({
        resource_key: key,
        state: 'error',
        last_error: details.lastError,
        keep_error: 0,
        next_attempt_at: details.nextAttemptAt,
        failure_count: details.failureCount,
        now,
      });
      return true;
    })();
  }

  /** Records a state change (refreshing, needs_login, error) with its reason and next attempt. */
  setState(key: string, state: StoredState, details: { lastError?: string | null; nextAttemptAt?: number | null; failureCount?: number } = {}): void {
    if (!STORED_STATES.includes(state)) throw new TypeError(`unknown state ${state}`);
    this.#byKey.delete(key);
    this.#byServerUrl.clear();
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
    return (this.#stmts.due.all({ at, limit }) as CredentialRow[]).map(toCredential);
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

  /** resourceKey(url), memoised; throws as it does for a URL that is not one. */
  #keyOf(url: string): string {
    const known = this.#keys.get(url);
    if (known !== undefined) return known;
    const key = resourceKey(url);
    this.#remember(this.#keys, url, key);
    return key;
  }

  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= CREDENTIAL_CACHE_SIZE && !map.has(key)) {
      const oldest = map.keys().next();
      if (oldest.done !== true) map.delete(oldest.value);
    }
    map.set(key, value);
  }

  #forgetAll(): void {
    this.#byServerUrl.clear();
    this.#byKey.clear();
    this.#serverKeys.clear();
  }

  #mustGet(key: string): CredentialRecord {
    const record = this.getByKey(key);
    if (record === undefined) throw new AuthdError('internal', 'credential vanished during its own write');
    return record;
  }
}

function migrate(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new AuthdError('STORE_UNAVAILABLE', `database ${path} has schema version ${current}, newer than this mcpauthd understands (${MIGRATIONS.length}); upgrade mcpauthd`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version] as string;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

function prepareStatements(db: Database.Database) {
  return {
    upsertAs: db.prepare(
      `INSERT INTO authorization_servers (issuer, metadata, fetched_at) VALUES (@issuer, @metadata, @fetched_at)
       ON CONFLICT (issuer) DO UPDATE SET metadata = excluded.metadata, fetched_at = excluded.fetched_at`,
    ),
    getAs: db.prepare('SELECT * FROM authorization_servers WHERE issuer = ?'),
    upsertRegistration: db.prepare(
      `INSERT INTO client_registrations (issuer, client_id, client_secret, token_endpoint_auth_method, registration_access_token, registration_client_uri, redirect_uris, kind, created_at)
       VALUES (@issuer, @client_id, @client_secret, @token_endpoint_auth_method, @registration_access_token, @registration_client_uri, @redirect_uris, @kind, @created_at)
       ON CONFLICT (issuer, client_id) DO UPDATE SET client_secret = excluded.client_secret,
         token_endpoint_auth_method = excluded.token_endpoint_auth_method, registration_access_token = excluded.registration_access_token,
         registration_client_uri = excluded.registration_client_uri, redirect_uris = excluded.redirect_uris, kind = excluded.kind`,
    ),
    getRegistration: db.prepare('SELECT * FROM client_registrations WHERE issuer = ? AND client_id = ?'),
    newestRegistration: db.prepare('SELECT * FROM client_registrations WHERE issuer = ? ORDER BY created_at DESC, rowid DESC LIMIT 1'),
    updateRegistrationToken: db.prepare('UPDATE client_registrations SET registration_access_token = ? WHERE issuer = ? AND client_id = ?'),
    clientInUse: db.prepare('SELECT 1 FROM credentials WHERE issuer = ? AND client_id = ? LIMIT 1'),
    deleteRegistration: db.prepare('DELETE FROM client_registrations WHERE issuer = ? AND client_id = ?'),
    upsertCredential: db.prepare(
      `INSERT INTO credentials (resource_key, resource, issuer, client_id, scopes, access_token, token_type, expires_at, refresh_token, refresh_at, state, last_refresh_at, last_error, next_attempt_at, failure_count, created_at, updated_at)
       VALUES (@resource_key, @resource, @issuer, @client_id, @scopes, @access_token, @token_type, @expires_at, @refresh_token, @refresh_at, 'valid', NULL, NULL, NULL, 0, @created_at, @updated_at)
       ON CONFLICT (resource_key) DO UPDATE SET resource = excluded.resource, issuer = excluded.issuer, client_id = excluded.client_id,
         scopes = excluded.scopes, access_token = excluded.access_token, token_type = excluded.token_type, expires_at = excluded.expires_at,
         refresh_token = excluded.refresh_token, refresh_at = excluded.refresh_at, state = 'valid', last_error = NULL,
         next_attempt_at = NULL, failure_count = 0, updated_at = excluded.updated_at`,
    ),
    upsertServer: db.prepare(
      `INSERT INTO credential_servers (server_key, server_url, resource_key) VALUES (@server_key, @server_url, @resource_key)
       ON CONFLICT (server_key) DO UPDATE SET server_url = excluded.server_url, resource_key = excluded.resource_key`,
    ),
    getCredential: db.prepare(`${SELECT_CREDENTIAL} WHERE c.resource_key = ?`),
    getByServer: db.prepare(`${SELECT_CREDENTIAL} JOIN credential_servers s2 ON s2.resource_key = c.resource_key WHERE s2.server_key = ?`),
    listCredentials: db.prepare(`${SELECT_CREDENTIAL} ORDER BY c.resource_key`),
    listingAfter: db.prepare(`${SELECT_LISTING} WHERE c.resource_key > @after ORDER BY c.resource_key LIMIT @limit`),
    listingAt: db.prepare(`${SELECT_LISTING} ORDER BY c.resource_key LIMIT @limit OFFSET @offset`),
    countCredentials: db.prepare('SELECT count(*) AS n FROM credentials'),
    deleteCredential: db.prepare('DELETE FROM credentials WHERE resource_key = ?'),
    rotate: db.prepare(
      `UPDATE credentials SET access_token = @access_token, token_type = @token_type, expires_at = @expires_at,
         refresh_token = @refresh_token, refresh_at = @refresh_at, scopes = @scopes, state = 'valid', last_refresh_at = @now,
         last_error = NULL, next_attempt_at = NULL, failure_count = 0, updated_at = @now
       WHERE resource_key = @resource_key`,
    ),
    replaceRefreshToken: db.prepare('UPDATE credentials SET refresh_token = @refresh_token, updated_at = @now WHERE resource_key = @resource_key'),
    setState: db.prepare(
      `UPDATE credentials SET state = @state,
         last_error = CASE WHEN @keep_error = 1 THEN last_error ELSE @last_error END,
         next_attempt_at = @next_attempt_at,
         failure_count = COALESCE(@failure_count, failure_count), updated_at = @now
       WHERE resource_key = @resource_key`,
    ),
    due: db.prepare(
      `${SELECT_CREDENTIAL}
       WHERE c.refresh_token IS NOT NULL AND c.state IN ('valid','refreshing','error')
         AND COALESCE(c.next_attempt_at, c.refresh_at) <= @at
       ORDER BY COALESCE(c.next_attempt_at, c.refresh_at) LIMIT @limit`,
    ),
    nextDue: db.prepare(
      `SELECT min(COALESCE(next_attempt_at, refresh_at)) AS at FROM credentials
       WHERE refresh_token IS NOT NULL AND state IN ('valid','refreshing','error')`,
    ),
  };
}

/** Records are frozen: the cache hands the same object to every reader (callers copy arrays before changing them). */
function toCredential(row: CredentialRow): CredentialRecord {
  const state = row.state as StoredState;
  return Object.freeze({
    resource: row.resource,
    resourceKey: row.resource_key,
    serverUrls: row.server_urls === null ? [] : (JSON.parse(row.server_urls) as string[]),
    issuer: row.issuer,
    clientId: row.client_id,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    accessToken: new Secret(row.access_token),
    tokenType: row.token_type,
    expiresAt: row.expires_at,
    refreshToken: secretOrNull(row.refresh_token),
    refreshAt: row.refresh_at,
    state,
    lastRefreshAt: row.last_refresh_at,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    failureCount: row.failure_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

function toListing(row: ListingRow): CredentialListing {
  return {
    resource: row.resource,
    resourceKey: row.resource_key,
    serverUrls: row.server_urls === null ? [] : (JSON.parse(row.server_urls) as string[]),
    issuer: row.issuer,
    clientId: row.client_id,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    expiresAt: row.expires_at,
    hasRefreshToken: row.has_refresh_token === 1,
    refreshAt: row.refresh_at,
    state: row.state as StoredState,
    lastRefreshAt: row.last_refresh_at,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    failureCount: row.failure_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toRegistration(row: RegistrationRow): ClientRegistration {
  return {
    issuer: row.issuer,
    clientId: row.client_id,
    clientSecret: secretOrNull(row.client_secret),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod,
    registrationAccessToken: secretOrNull(row.registration_access_token),
    registrationClientUri: row.registration_client_uri,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    kind: row.kind as RegistrationKind,
    createdAt: row.created_at,
  };
}
