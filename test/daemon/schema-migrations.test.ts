/**
 * Forward migrations on databases that really are of an older schema: built
 * from the migration list itself, rows written with the columns that version
 * had, then opened by today's store. Nothing a user stored may be lost or
 * changed by an upgrade.
 */
import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { ensurePrivateDirectory } from '../../daemon/os/private-path.js';
import { AuditTable } from '../../daemon/store/audit-table.js';
import { MIGRATIONS } from '../../daemon/store/schema.js';
import { Secret } from '../../daemon/store/secret.js';
import { SCHEMA_VERSION, TokenStore } from '../../daemon/store/token-store.js';
import { makeTempHome } from '../helpers/temp-home.js';

const A = 'https://a.example/mcp';
const ISSUER = 'https://as.example';

/** A database at `version`, holding one credential (with its server URL) and one registration as schema 1 wrote them. */
function databaseAt(path: string, version: number): void {
  const db = new Database(path);
  for (let v = 0; v < version; v++) db.exec(MIGRATIONS[v] as string);
  db.pragma(`user_version = ${version}`);
  db.prepare(
    `INSERT INTO client_registrations (issuer, client_id, client_secret, token_endpoint_auth_method, registration_access_token, registration_client_uri, redirect_uris, kind, created_at)
     VALUES (?, 'client-1', 'cs-1', 'client_secret_basic', 'rat-1', 'https://as.example/reg/client-1', '["http://127.0.0.1/callback"]', 'dynamic', 10)`,
  ).run(ISSUER);
  db.prepare(
    `INSERT INTO credentials (resource_key, resource, issuer, client_id, scopes, access_token, token_type, expires_at, refresh_token, refresh_at, state, failure_count, created_at, updated_at)
     VALUES (?, ?, ?, 'client-1', 'mcp:tools', 'at-1', 'Bearer', 2000000, 'rt-1', 1500000, 'valid', 0, 10, 10)`,
  ).run(A, A, ISSUER);
  db.prepare("INSERT INTO credential_servers (server_key, server_url, resource_key) VALUES (?, ?, ?)").run(A, A, A);
  db.close();
}

describe('schema migrations', () => {
  it.each([1, 2, 3])('should bring a schema-%i database to today, keeping its credential and registration', (version) => {
    const home = makeTempHome();
    try {
      process.umask(0o077);
      ensurePrivateDirectory(home.paths.home);
      databaseAt(home.paths.database, version);
      const store = TokenStore.open(home.paths.database);
      expect(store.schemaVersion).toBe(SCHEMA_VERSION);
      const credential = store.findByServerUrl(A);
      expect(credential?.accessToken.reveal()).toBe('at-1');
      expect(credential?.refreshToken?.reveal()).toBe('rt-1');
      expect(credential?.scopes).toEqual(['mcp:tools']);
      // Schema 3: an existing credential was a browser login, bearer, with default login choices.
      expect(credential?.grantKind).toBe('authorization_code');
      expect(credential?.loginOptions).toBeNull();
      expect(credential?.dpopKey).toBeNull();
      // Schema 4 (issue 16 item 5): the IdP sessions table exists, empty.
      expect(store.idpSessions.list()).toEqual([]);
      // Schema 2's index: the scheduler's question is answered.
      expect(store.nextDueAt()).toBe(1_500_000);
      const registration = store.getClientRegistration(ISSUER, 'client-1');
      expect(registration?.clientSecret?.reveal()).toBe('cs-1');
      expect(registration?.registrationAccessToken?.reveal()).toBe('rat-1');
      expect(registration?.redirectUris).toEqual(['http://127.0.0.1/callback']);
      expect(registration?.clientKey).toBeNull();
      store.close();
      const check = new Database(home.paths.database, { readonly: true });
      expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'credentials_due'").get()).toBeDefined();
      check.close();
    } finally {
      home.remove();
    }
  });

  it('should store how a credential was obtained and how to log in again', () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    try {
      store.saveCredential({
        resource: A,
        serverUrl: A,
        issuer: ISSUER,
        clientId: 'client-1',
        scopes: [],
        accessToken: new Secret('at-2'),
        tokenType: 'Bearer',
        expiresAt: null,
        refreshToken: null,
        refreshAt: null,
        grantKind: 'device_code',
        loginOptions: { redirect_uri: 'http://127.0.0.1:8976/callback' },
      });
      const saved = store.findByResource(A);
      expect(saved?.grantKind).toBe('device_code');
      expect(saved?.loginOptions).toEqual({ redirect_uri: 'http://127.0.0.1:8976/callback' });
      // status reads the same facts without decoding a token.
      const [listed] = store.listSummaries({ offset: 0 }, 10);
      expect(listed?.grantKind).toBe('device_code');
      expect(listed?.dpopBound).toBe(false);
    } finally {
      store.close();
    }
  });

  it('should fill schema 8\'s last uses from a schema-7 audit trail: the programs status shows stay the same', () => {
    const home = makeTempHome();
    try {
      process.umask(0o077);
      ensurePrivateDirectory(home.paths.home);
      databaseAt(home.paths.database, 7);
      const db = new Database(home.paths.database);
      const event = db.prepare(
        `INSERT INTO audit_events (at, method, resource, resource_key, program, pid, chain, outcome, error_code, detail, count, last_at)
         VALUES (?, ?, ?, ?, ?, 1, '[]', ?, NULL, NULL, 1, ?)`,
      );
      event.run(100, 'token.get', A, A, '/usr/bin/agent', 'ok', 150);
      event.run(200, 'token.get', A, A, '/usr/bin/agent', 'ok', 900); // its latest use
      event.run(300, 'dpop.proof', A, A, '/usr/bin/dpop', 'ok', 300);
      event.run(400, 'token.get', A, A, '/usr/bin/refused', 'denied', 400);
      event.run(500, 'refresh', A, A, '/usr/bin/refresher', 'ok', 500);
      db.close();
      const store = TokenStore.open(home.paths.database);
      expect(store.schemaVersion).toBe(SCHEMA_VERSION);
      const table = new AuditTable(store.connection);
      expect(table.programsSince(A, 0)).toEqual(['/usr/bin/agent', '/usr/bin/dpop']);
      expect(table.programsSince(A, 800)).toEqual(['/usr/bin/agent']);
      store.close();
    } finally {
      home.remove();
    }
  });
});
