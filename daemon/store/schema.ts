/**
 * The database's shape and settings: the connection pragmas (durability,
 * secure delete, cache size), the start-up integrity check and the forward
 * migrations. Driver types only: the connection is opened in token-store.ts.
 */
import type Database from 'better-sqlite3';
import { AuthdError } from '../../shared/errors.js';


/**
 * Forward migrations, index = the version it produces minus one. Each runs in
 * one transaction together with the user_version bump.
 */
export const MIGRATIONS: readonly string[] = [
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
  // 3: logins that are not a browser's authorization code (issue 16) and
  // sender-constrained tokens (issue 17). A credential says how it was obtained
  // (grant_kind) and how to log in again the same way (login_options: JSON,
  // never a secret); dpop_key is the private half of its DPoP key (a secret).
  // A registration may authenticate with a key (private_key_jwt, client_key is
  // the private JWK, a secret): SQLite cannot widen a CHECK, so that table is
  // rebuilt with the same rows.
  `
  ALTER TABLE credentials ADD COLUMN grant_kind TEXT NOT NULL DEFAULT 'authorization_code'
    CHECK (grant_kind IN ('authorization_code','device_code','client_credentials','jwt_bearer','enterprise'));
  ALTER TABLE credentials ADD COLUMN login_options TEXT;
  ALTER TABLE credentials ADD COLUMN dpop_key TEXT;

  CREATE TABLE client_registrations_v3 (
    issuer                      TEXT NOT NULL,
    client_id                   TEXT NOT NULL,
    client_secret               TEXT,
    token_endpoint_auth_method  TEXT NOT NULL CHECK (token_endpoint_auth_method IN ('none','client_secret_basic','client_secret_post','private_key_jwt')),
    registration_access_token   TEXT,
    registration_client_uri     TEXT,
    redirect_uris               TEXT NOT NULL,
    kind                        TEXT NOT NULL CHECK (kind IN ('dynamic','preregistered','metadata_document')),
    created_at                  INTEGER NOT NULL,
    client_key                  TEXT,
    PRIMARY KEY (issuer, client_id)
  ) STRICT;
  INSERT INTO client_registrations_v3 (issuer, client_id, client_secret, token_endpoint_auth_method, registration_access_token,
      registration_client_uri, redirect_uris, kind, created_at)
    SELECT issuer, client_id, client_secret, token_endpoint_auth_method, registration_access_token,
      registration_client_uri, redirect_uris, kind, created_at FROM client_registrations;
  DROP TABLE client_registrations;
  ALTER TABLE client_registrations_v3 RENAME TO client_registrations;
  `,
  // 4 (issue 16, machine logins): credentials without a refresh token whose
  // grant is run again (client_credentials, jwt_bearer, enterprise) are due
  // for renewal too; the index's predicate is statements.ts RENEWABLE.
  `
  DROP INDEX credentials_due;
  CREATE INDEX credentials_due ON credentials (COALESCE(next_attempt_at, refresh_at))
    WHERE (refresh_token IS NOT NULL OR grant_kind IN ('client_credentials','jwt_bearer','enterprise')) AND state IN ('valid','refreshing','error');
  `,
  // 5 (issue 16 item 5, enterprise-managed authorization): one session per
  // company identity provider, signed into once with `mcpauthd idp login`.
  // Secret columns: client_secret, id_token, refresh_token. Credentials that
  // depend on a session name its issuer in login_options.idp_issuer.
  `
  CREATE TABLE idp_sessions (
    issuer               TEXT PRIMARY KEY,
    client_id            TEXT NOT NULL,
    client_secret        TEXT,
    id_token             TEXT NOT NULL CHECK (length(id_token) > 0),
    id_token_expires_at  INTEGER,
    refresh_token        TEXT,
    subject              TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
  ) STRICT;
  `,
  // 6 (issue 17, encrypted at rest): the one row saying this database's secret
  // columns are sealed (daemon/store/sealing.ts), by which key provider, and a
  // check value that tells a wrong key from a damaged row. No row: plaintext,
  // sealed in one transaction by the first open that has a key (seal-state.ts).
  `
  CREATE TABLE sealing (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    format      INTEGER NOT NULL,
    provider    TEXT NOT NULL,
    key_check   TEXT NOT NULL,
    sealed_at   INTEGER NOT NULL
  ) STRICT;
  `,
  // 7 (issue 18): who used which credential (audit_events: never a token or
  // anything derived from one; bounded by age and count, daemon/serve/audit.ts)
  // One row stands for `count` identical requests (same program, pid,
  // method, resource, outcome) answered between `at` and `last_at` within one
  // write batch: at 30,000 token.get a second, a row each cost 40% of the
  // throughput (docs/benchmarks.md).
  // and what each program may use (resource_policies, program_approvals). Keyed
  // by resource key, not tied to a credential row: the trail outlives a
  // logout, and a policy may be set before the first login.
  `
  CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    method       TEXT NOT NULL,
    resource     TEXT,
    resource_key TEXT,
    program      TEXT NOT NULL,
    pid          INTEGER,
    chain        TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('ok','error','denied')),
    error_code   TEXT,
    detail       TEXT,
    count        INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
    last_at      INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX audit_events_at ON audit_events (at);
  CREATE INDEX audit_events_resource ON audit_events (resource_key, at);

  CREATE TABLE resource_policies (
    resource_key TEXT PRIMARY KEY,
    resource     TEXT NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('allow','confirm','deny')),
    updated_at   INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE program_approvals (
    resource_key TEXT NOT NULL,
    program      TEXT NOT NULL,
    expires_at   INTEGER,
    source       TEXT NOT NULL CHECK (source IN ('cli','prompt')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (resource_key, program)
  ) STRICT;
  `,
  // 8 (issue 14 item 10): status names the programs that used each credential
  // in the last day. Asked of audit_events, that scanned every row of the day:
  // about 10 ms per status at 20,000 rows (a day of per-request calls), which
  // scripts run per request. One row per resource and program, with its last
  // plain use, kept with each audit write (daemon/store/audit-table.ts), and
  // filled from the trail so far.
  `
  CREATE TABLE audit_program_uses (
    resource_key TEXT NOT NULL,
    program      TEXT NOT NULL,
    last_at      INTEGER NOT NULL,
    PRIMARY KEY (resource_key, program)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO audit_program_uses (resource_key, program, last_at)
    SELECT resource_key, program, MAX(last_at) FROM audit_events
    WHERE resource_key IS NOT NULL AND outcome = 'ok' AND method IN ('token.get', 'dpop.proof')
    GROUP BY resource_key, program;
  `,
];

/** The schema this build writes: one version per migration, so a new migration cannot forget to bump it. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Sets the pragmas every connection needs and refuses a database that fails its integrity check. */
export function configure(db: Database.Database, path: string): void {
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
}

export function migrate(db: Database.Database, path: string): void {
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
