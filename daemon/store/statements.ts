/**
 * Every SQL statement the token store runs, prepared once per connection.
 */
import type Database from 'better-sqlite3';

const SELECT_CREDENTIAL = `
  SELECT c.*, (SELECT json_group_array(server_url) FROM credential_servers s WHERE s.resource_key = c.resource_key) AS server_urls
  FROM credentials c`;

/**
 * A credential the scheduler renews: it has a refresh token, or its grant is
 * run again (records.ts REGRANT_KINDS). Word for word the predicate of the
 * credentials_due index (schema.ts), so SQLite can use that index.
 */
export const RENEWABLE = `(refresh_token IS NOT NULL OR grant_kind IN ('client_credentials','jwt_bearer','enterprise'))`;

/** Every column but the tokens: status never decodes a token. */
const SELECT_LISTING = `
  SELECT c.resource_key, c.resource, c.issuer, c.client_id, c.scopes, c.expires_at, c.refresh_token IS NOT NULL AS has_refresh_token,
    c.refresh_at, c.state, c.last_refresh_at, c.last_error, c.next_attempt_at, c.failure_count, c.created_at, c.updated_at,
    c.grant_kind, c.login_options, c.dpop_key IS NOT NULL AS dpop_bound,
    (SELECT json_group_array(server_url) FROM credential_servers s WHERE s.resource_key = c.resource_key) AS server_urls
  FROM credentials c`;

/** One prepared statement per question the store asks (named so the driver's types stay out of declarations). */
export interface Statements {
  upsertAs: Database.Statement;
  getAs: Database.Statement;
  upsertRegistration: Database.Statement;
  getRegistration: Database.Statement;
  newestRegistration: Database.Statement;
  updateRegistrationToken: Database.Statement;
  clientInUse: Database.Statement;
  deleteRegistration: Database.Statement;
  upsertCredential: Database.Statement;
  upsertServer: Database.Statement;
  getCredential: Database.Statement;
  getByServer: Database.Statement;
  listCredentials: Database.Statement;
  listingAfter: Database.Statement;
  listingAt: Database.Statement;
  countCredentials: Database.Statement;
  deleteCredential: Database.Statement;
  rotate: Database.Statement;
  replaceRefreshToken: Database.Statement;
  setState: Database.Statement;
  due: Database.Statement;
  nextDue: Database.Statement;
}

export function prepareStatements(db: Database.Database): Statements {
  return {
    upsertAs: db.prepare(
      `INSERT INTO authorization_servers (issuer, metadata, fetched_at) VALUES (@issuer, @metadata, @fetched_at)
       ON CONFLICT (issuer) DO UPDATE SET metadata = excluded.metadata, fetched_at = excluded.fetched_at`,
    ),
    getAs: db.prepare('SELECT * FROM authorization_servers WHERE issuer = ?'),
    upsertRegistration: db.prepare(
      `INSERT INTO client_registrations (issuer, client_id, client_secret, token_endpoint_auth_method, registration_access_token, registration_client_uri, redirect_uris, kind, created_at, client_key)
       VALUES (@issuer, @client_id, @client_secret, @token_endpoint_auth_method, @registration_access_token, @registration_client_uri, @redirect_uris, @kind, @created_at, @client_key)
       ON CONFLICT (issuer, client_id) DO UPDATE SET client_secret = excluded.client_secret,
         token_endpoint_auth_method = excluded.token_endpoint_auth_method, registration_access_token = excluded.registration_access_token,
         registration_client_uri = excluded.registration_client_uri, redirect_uris = excluded.redirect_uris, kind = excluded.kind,
         client_key = excluded.client_key`,
    ),
    getRegistration: db.prepare('SELECT * FROM client_registrations WHERE issuer = ? AND client_id = ?'),
    newestRegistration: db.prepare('SELECT * FROM client_registrations WHERE issuer = ? ORDER BY created_at DESC, rowid DESC LIMIT 1'),
    updateRegistrationToken: db.prepare('UPDATE client_registrations SET registration_access_token = ? WHERE issuer = ? AND client_id = ?'),
    clientInUse: db.prepare('SELECT 1 FROM credentials WHERE issuer = ? AND client_id = ? LIMIT 1'),
    deleteRegistration: db.prepare('DELETE FROM client_registrations WHERE issuer = ? AND client_id = ?'),
    upsertCredential: db.prepare(
      `INSERT INTO credentials (resource_key, resource, issuer, client_id, scopes, access_token, token_type, expires_at, refresh_token, refresh_at, state, last_refresh_at, last_error, next_attempt_at, failure_count, created_at, updated_at, grant_kind, login_options, dpop_key)
       VALUES (@resource_key, @resource, @issuer, @client_id, @scopes, @access_token, @token_type, @expires_at, @refresh_token, @refresh_at, 'valid', NULL, NULL, NULL, 0, @created_at, @updated_at,
         @grant_kind, @login_options, @dpop_key)
       ON CONFLICT (resource_key) DO UPDATE SET resource = excluded.resource, issuer = excluded.issuer, client_id = excluded.client_id,
         scopes = excluded.scopes, access_token = excluded.access_token, token_type = excluded.token_type, expires_at = excluded.expires_at,
         refresh_token = excluded.refresh_token, refresh_at = excluded.refresh_at, state = 'valid', last_error = NULL,
         next_attempt_at = NULL, failure_count = 0, updated_at = excluded.updated_at, grant_kind = excluded.grant_kind,
         login_options = excluded.login_options, dpop_key = excluded.dpop_key`,
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
       WHERE ${RENEWABLE} AND c.state IN ('valid','refreshing','error')
         AND COALESCE(c.next_attempt_at, c.refresh_at) <= @at
       ORDER BY COALESCE(c.next_attempt_at, c.refresh_at) LIMIT @limit`,
    ),
    nextDue: db.prepare(
      `SELECT min(COALESCE(next_attempt_at, refresh_at)) AS at FROM credentials
       WHERE ${RENEWABLE} AND state IN ('valid','refreshing','error')`,
    ),
  };
}

