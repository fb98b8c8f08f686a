/**
 * Issue 17, encrypted at rest, at the store: what a user who copies the
 * database (or tampers with it) finds. Real SQLite files and real key files
 * in a temp config directory; the keychain is faked only for the faults this
 * machine's keychain cannot be made to show (it answers nothing here).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { isAuthdError } from '../../shared/errors.js';
import { ensurePrivateDirectory } from '../../daemon/os/private-path.js';
import { keyFileSource, resolveDataKey, type KeySource, type KeySources } from '../../daemon/store/key-provider.js';
import { MIGRATIONS } from '../../daemon/store/schema.js';
import { Secret } from '../../daemon/store/secret.js';
import { SEALED_PREFIX, SEALED_TABLES } from '../../daemon/store/sealing.js';
import { TokenStore, type TokenStoreOptions } from '../../daemon/store/token-store.js';
import type { KeyProviderChoice } from '../../shared/key-providers.js';
import { newCredential } from '../helpers/new-credential.js';
import { recordOutput, recordSecret } from '../helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from '../helpers/temp-home.js';

const A = 'https://a.example/mcp';
const B = 'https://b.example/mcp';
const ISSUER = 'https://as.example';

const homes: TempHome[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) home.remove();
});

function newHome(): TempHome {
  const home = makeTempHome();
  homes.push(home);
  process.umask(0o077);
  ensurePrivateDirectory(home.paths.home);
  return home;
}

/** The key-file source only (the keychain fails as it does here), as the daemon resolves it. */
function keyFileOnly(home: TempHome, choice: KeyProviderChoice = 'key_file'): TokenStoreOptions {
  const sources: KeySources = { keychain: () => failingKeychain('Couldn\'t access platform storage: AccessDenied'), key_file: () => keyFileSource(home.paths.keyFile, home.paths.home) };
  return { dataKey: (sealedBy) => resolveDataKey({ sealedBy, choice, sources, database: home.paths.database }) };
}

function failingKeychain(reason: string): KeySource {
  const fail = (): never => {
    throw Object.assign(new Error(`the OS keychain did not answer: ${reason}`), { code: 'KEY_UNAVAILABLE' });
  };
  return { name: 'keychain', location: 'the OS keychain (fake)', read: fail, create: fail };
}

/** Every byte of the database and its -wal/-shm, for "nothing changed" and "not on disk". */
function databaseBytes(database: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of [database, `${database}-wal`, `${database}-shm`]) {
    if (existsSync(file)) out.set(file, createHash('sha256').update(readFileSync(file)).digest('hex'));
  }
  return out;
}

function foundOnDisk(database: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of [database, `${database}-wal`, `${database}-shm`]) {
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    for (const secret of secrets) if (bytes.includes(secret)) found.push(`${file.slice(database.length) || 'db'}: ${secret.slice(0, 6)}…`);
  }
  return found;
}

/** The secrets planted here and the key files made for them join the run's ledger; every error message is captured for it. */
function ledger(home: TempHome, ...errors: unknown[]): void {
  for (const secret of PLANTED) recordSecret(secret);
  if (existsSync(home.paths.keyFile)) recordSecret(readFileSync(home.paths.keyFile, 'utf8').trim());
  for (const err of errors) if (err instanceof Error) recordOutput('sealing.test error message', err.message);
}

function plant(store: TokenStore): void {
  store.saveClientRegistration({
    issuer: ISSUER,
    clientId: 'client-1',
    clientSecret: new Secret('client-secret-A-0123456789'),
    tokenEndpointAuthMethod: 'client_secret_basic',
    registrationAccessToken: new Secret('registration-token-0123456789'),
    registrationClientUri: `${ISSUER}/reg/client-1`,
    redirectUris: ['http://127.0.0.1/callback'],
    kind: 'dynamic',
    clientKey: new Secret('{"kty":"EC","d":"client-key-private-0123456789"}'),
  });
  store.saveCredential(newCredential({ resource: A, serverUrl: A, issuer: ISSUER, accessToken: new Secret('access-token-A-0123456789'), refreshToken: new Secret('refresh-token-A-0123456789'), dpopKey: new Secret('{"kty":"EC","d":"dpop-key-A-0123456789"}') }));
  store.saveCredential(newCredential({ resource: B, serverUrl: B, issuer: ISSUER, accessToken: new Secret('access-token-B-0123456789'), refreshToken: new Secret('refresh-token-B-0123456789') }));
  // Enterprise-managed authorization's IdP session: its own table, the same sealing.
  store.idpSessions.save({
    issuer: IDP,
    clientId: 'mcpauthd-at-idp',
    clientSecret: new Secret('idp-client-secret-0123456789'),
    idToken: new Secret('idp-id-token-0123456789'),
    idTokenExpiresAt: null,
    refreshToken: new Secret('idp-refresh-token-0123456789'),
    subject: 'alice',
  });
}
const IDP = 'https://idp.example';
const PLANTED = [
  'client-secret-A-0123456789', 'registration-token-0123456789', 'client-key-private-0123456789',
  'access-token-A-0123456789', 'refresh-token-A-0123456789', 'dpop-key-A-0123456789', 'access-token-B-0123456789', 'refresh-token-B-0123456789',
  'idp-client-secret-0123456789', 'idp-id-token-0123456789', 'idp-refresh-token-0123456789',
];

function rawValue(database: string, sql: string): string {
  const db = new Database(database, { readonly: true });
  try {
    return (db.prepare(sql).pluck().get() as string);
  } finally {
    db.close();
  }
}

describe('encrypted at rest: the store (issue 17)', () => {
  it('keeps every secret column sealed on disk, lookup keys plain, and reads the values back', () => {
    const home = newHome();
    const store = TokenStore.open(home.paths.database, keyFileOnly(home));
    plant(store);
    // Reads come back whole, through the cache and around it.
    expect(store.findByServerUrl(A)?.accessToken.reveal()).toBe('access-token-A-0123456789');
    expect(store.list().map((r) => r.refreshToken?.reveal())).toEqual(['refresh-token-A-0123456789', 'refresh-token-B-0123456789']);
    expect(store.getClientRegistration(ISSUER)?.clientSecret?.reveal()).toBe('client-secret-A-0123456789');
    // A rotation is sealed too, and compared against the sealed refresh token it replaces.
    const key = store.findByResource(A)?.resourceKey as string;
    expect(store.rotateTokens(key, new Secret('refresh-token-A-0123456789'), { accessToken: new Secret('access-token-A2-0123456789'), tokenType: 'Bearer', expiresAt: 3_000_000, refreshToken: new Secret('refresh-token-A2-0123456789'), refreshAt: 2_500_000 })).toBeDefined();
    store.close();

    expect(foundOnDisk(home.paths.database, [...PLANTED, 'access-token-A2-0123456789', 'refresh-token-A2-0123456789'])).toEqual([]);
    expect(rawValue(home.paths.database, `SELECT access_token FROM credentials WHERE resource_key = '${key}'`).startsWith(SEALED_PREFIX)).toBe(true);
    expect(rawValue(home.paths.database, 'SELECT client_key FROM client_registrations').startsWith(SEALED_PREFIX)).toBe(true);
    // Metadata stays queryable: the scheduler's and status's questions need no key.
    expect(rawValue(home.paths.database, `SELECT resource FROM credentials WHERE resource_key = '${key}'`)).toBe(A);
    const again = TokenStore.open(home.paths.database, keyFileOnly(home));
    expect(again.findByResource(A)?.refreshToken?.reveal()).toBe('refresh-token-A2-0123456789');
    expect(again.listSummaries({ offset: 0 }, 10).map((l) => l.dpopBound)).toEqual([true, false]);
    expect(rawValue(home.paths.database, 'SELECT id_token FROM idp_sessions').startsWith(SEALED_PREFIX)).toBe(true);
    expect(again.idpSessions.get(IDP)?.idToken.reveal()).toBe('idp-id-token-0123456789');
    expect(again.idpSessions.get(IDP)?.refreshToken?.reveal()).toBe('idp-refresh-token-0123456789');
    again.close();
  });

  it('makes the key file 0600 in a 0700 config directory, and refuses one that is looser or inside the state directory', () => {
    const home = newHome();
    TokenStore.open(home.paths.database, keyFileOnly(home)).close();
    expect(statSync(home.paths.keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(home.paths.configDir).mode & 0o777).toBe(0o700);
    chmodSync(home.paths.keyFile, 0o644);
    const before = databaseBytes(home.paths.database);
    expect(() => TokenStore.open(home.paths.database, keyFileOnly(home))).toThrow(/key file .*database\.key has mode 0644.*Fix: chmod 600/);
    expect(databaseBytes(home.paths.database)).toEqual(before);
    expect(() => keyFileSource(join(home.paths.home, 'k', 'database.key'), home.paths.home)).toThrow(/inside the state directory.*MCPAUTHD_CONFIG_DIR/);
  });

  it('refuses a row whose ciphertext was copied from another row, or from another column, naming the row and the fix', () => {
    const home = newHome();
    const store = TokenStore.open(home.paths.database, keyFileOnly(home));
    plant(store);
    const keyA = store.findByResource(A)?.resourceKey as string;
    const keyB = store.findByResource(B)?.resourceKey as string;
    store.close();
    const db = new Database(home.paths.database);
    db.prepare('UPDATE credentials SET access_token = (SELECT access_token FROM credentials WHERE resource_key = ?) WHERE resource_key = ?').run(keyA, keyB);
    db.prepare('UPDATE credentials SET refresh_token = access_token WHERE resource_key = ?').run(keyA);
    db.close();

    const reopened = TokenStore.open(home.paths.database, keyFileOnly(home));
    let caught: unknown;
    try {
      reopened.findByResource(B);
    } catch (err) {
      caught = err;
    }
    expect(isAuthdError(caught, 'STORE_UNAVAILABLE')).toBe(true);
    expect((caught as Error).message).toBe(`credentials.access_token of ${keyB} does not decrypt: it was changed, or copied from another row; log in to that server again (mcpauthd logout, then login)`);
    expect(() => reopened.findByResource(A)).toThrow(`credentials.refresh_token of ${keyA} does not decrypt`);
    reopened.close();
    ledger(home, caught);
  });

  it('refuses a wrong key and a missing key with the fix, changing nothing on disk', () => {
    const home = newHome();
    const store = TokenStore.open(home.paths.database, keyFileOnly(home));
    plant(store);
    store.close();
    const before = databaseBytes(home.paths.database);
    const goodKey = readFileSync(home.paths.keyFile);

    writeFileSync(home.paths.keyFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    let caught: unknown;
    try {
      TokenStore.open(home.paths.database, keyFileOnly(home));
    } catch (err) {
      caught = err;
    }
    expect(isAuthdError(caught, 'KEY_MISMATCH')).toBe(true);
    ledger(home, caught);
    expect((caught as Error).message).toMatch(/does not open the database .*nothing was changed\. Fix: put back the key this database was sealed with \(a key file/);
    expect(databaseBytes(home.paths.database)).toEqual(before);

    // Missing: no new key is made for a sealed database, and no fallback to another provider or to plaintext.
    rmSync(home.paths.keyFile);
    for (const choice of ['key_file', 'auto'] as const) {
      caught = undefined;
      try {
        TokenStore.open(home.paths.database, keyFileOnly(home, choice));
      } catch (err) {
        caught = err;
      }
      expect(isAuthdError(caught, 'KEY_UNAVAILABLE')).toBe(true);
      ledger(home, caught);
      expect((caught as Error).message).toMatch(/encrypted with the key file .*database\.key, which is missing; nothing was changed\. Fix: restore the key from your backup/);
    }
    expect(existsSync(home.paths.keyFile)).toBe(false);
    expect(() => TokenStore.open(home.paths.database)).toThrow(/is encrypted; only the daemon/);
    expect(databaseBytes(home.paths.database)).toEqual(before);

    // The right key back: every credential is there.
    writeFileSync(home.paths.keyFile, goodKey, { mode: 0o600 });
    const restored = TokenStore.open(home.paths.database, keyFileOnly(home));
    expect(restored.findByResource(B)?.accessToken.reveal()).toBe('access-token-B-0123456789');
    restored.close();
  });

  it('never falls back from the keychain that sealed a database, and says why it passed a keychain over for a new one', () => {
    const home = newHome();
    let stored: Buffer | undefined;
    const workingKeychain: KeySource = { name: 'keychain', location: 'the OS keychain (test entry)', read: () => stored, create: () => (stored = randomBytes(32)) };
    const sources = (keychain: () => KeySource): KeySources => ({ keychain, key_file: () => keyFileSource(home.paths.keyFile, home.paths.home) });
    const open = (keychain: () => KeySource) => TokenStore.open(home.paths.database, { dataKey: (sealedBy) => resolveDataKey({ sealedBy, choice: 'auto', sources: sources(keychain), database: home.paths.database }) });

    const store = open(() => workingKeychain);
    expect(store.encryption).toMatchObject({ provider: 'keychain', keyCreated: true, passedOver: [] });
    plant(store);
    store.close();
    const before = databaseBytes(home.paths.database);
    expect(() => open(() => failingKeychain('locked'))).toThrow(/did not answer: locked/);
    expect(existsSync(home.paths.keyFile)).toBe(false);
    expect(databaseBytes(home.paths.database)).toEqual(before);

    const other = newHome();
    const fresh = TokenStore.open(other.paths.database, keyFileOnly(other, 'auto'));
    expect(fresh.encryption).toMatchObject({ provider: 'key_file', location: other.paths.keyFile, keyCreated: true });
    expect(fresh.encryption?.passedOver).toEqual([expect.stringContaining('AccessDenied')]);
    fresh.close();
  });

  it('seals a plaintext schema-3 database in one go at first open, keeping every credential and leaving no plaintext in any file', () => {
    const home = newHome();
    const db = new Database(home.paths.database);
    db.pragma('journal_mode = WAL');
    db.pragma('secure_delete = ON');
    for (let v = 0; v < 3; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma('user_version = 3');
    const secrets: string[] = [];
    const insert = db.prepare(
      `INSERT INTO credentials (resource_key, resource, issuer, client_id, scopes, access_token, token_type, expires_at, refresh_token, refresh_at, state, failure_count, created_at, updated_at, grant_kind, dpop_key)
       VALUES (@url, @url, @issuer, 'client-1', 'mcp:tools', @at, 'Bearer', 2000000, @rt, 1500000, 'valid', 0, 10, 10, 'authorization_code', @dpop)`,
    );
    db.transaction(() => {
      for (let i = 0; i < 50; i++) {
        const row = { url: `https://mcp${i}.example/mcp`, issuer: ISSUER, at: `plain-access-${i}-${'a'.repeat(40)}`, rt: i % 3 === 0 ? null : `plain-refresh-${i}-${'r'.repeat(30)}`, dpop: i % 5 === 0 ? `{"d":"plain-dpop-${i}-0123456789"}` : null };
        insert.run(row);
        for (const s of [row.at, row.rt, row.dpop]) if (s !== null) secrets.push(s.replace(/^\{"d":"|"\}$/g, ''));
      }
      db.prepare(
        `INSERT INTO client_registrations (issuer, client_id, client_secret, token_endpoint_auth_method, registration_access_token, registration_client_uri, redirect_uris, kind, created_at, client_key)
         VALUES (?, 'client-1', 'plain-client-secret-0123456789', 'client_secret_basic', 'plain-rat-0123456789', NULL, '[]', 'dynamic', 10, NULL)`,
      ).run(ISSUER);
    })();
    secrets.push('plain-client-secret-0123456789', 'plain-rat-0123456789');
    db.close();
    expect(foundOnDisk(home.paths.database, secrets).length).toBeGreaterThan(0);

    const store = TokenStore.open(home.paths.database, keyFileOnly(home));
    expect(store.encryption?.migratedValues).toBe(secrets.length);
    const records = store.list();
    expect(records).toHaveLength(50);
    for (let i = 0; i < 50; i++) {
      const r = store.findByResource(`https://mcp${i}.example/mcp`);
      expect(r?.accessToken.reveal()).toBe(`plain-access-${i}-${'a'.repeat(40)}`);
      expect(r?.refreshToken?.reveal() ?? null).toBe(i % 3 === 0 ? null : `plain-refresh-${i}-${'r'.repeat(30)}`);
      expect(r?.dpopKey?.reveal() ?? null).toBe(i % 5 === 0 ? `{"d":"plain-dpop-${i}-0123456789"}` : null);
    }
    expect(store.getClientRegistration(ISSUER)?.registrationAccessToken?.reveal()).toBe('plain-rat-0123456789');
    // Straight after the migration, the daemon still running: no plaintext in the database, -wal or -shm.
    expect(foundOnDisk(home.paths.database, secrets)).toEqual([]);
    store.close();
    expect(foundOnDisk(home.paths.database, secrets)).toEqual([]);
    expect(readdirSync(home.paths.home).filter((f) => f.startsWith('mcpauthd.db')).sort()).toEqual(['mcpauthd.db']);
  });

  it('declares every secret column of the schema, one list per table', () => {
    const home = newHome();
    TokenStore.open(home.paths.database, keyFileOnly(home)).close();
    const db = new Database(home.paths.database, { readonly: true });
    const columns = (table: string) => (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map((c) => c.name);
    // A column whose name says secret (token, secret, key but the lookup keys) must be sealed.
    // Timestamps (…_at) name a token but hold a time, not a secret.
    const secretLooking = (name: string) => /token|secret|_key$/.test(name) && !name.endsWith('_at') && !['resource_key', 'server_key', 'token_type', 'token_endpoint_auth_method', 'key_check'].includes(name);
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['credentials', 'client_registrations']));
    for (const table of tables) {
      const declared: readonly string[] = (SEALED_TABLES as Record<string, { secrets: readonly string[] }>)[table]?.secrets ?? [];
      expect({ table, unsealed: columns(table).filter(secretLooking).filter((c) => !declared.includes(c) && !c.startsWith('has_')) }).toEqual({ table, unsealed: [] });
    }
    db.close();
  });
});
