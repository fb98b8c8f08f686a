import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDirectory } from '../../daemon/os/private-path.js';
import { Secret } from '../../daemon/store/secret.js';
import { SCHEMA_VERSION, TokenStore } from '../../daemon/store/token-store.js';
import { newCredential } from '../helpers/new-credential.js';
import { makeTempHome, type TempHome } from '../helpers/temp-home.js';

const credential = newCredential;

describe('TokenStore', () => {
  let home: TempHome;
  let dbPath: string;
  beforeEach(() => {
    home = makeTempHome();
    process.umask(0o077);
    ensurePrivateDirectory(home.paths.home);
    dbPath = home.paths.database;
  });
  afterEach(() => home.remove());

  it('should create and migrate an empty file to the current schema', () => {
    const store = TokenStore.open(dbPath);
    expect(store.schemaVersion).toBe(SCHEMA_VERSION);
    expect(store.count()).toBe(0);
    store.close();
    const raw = new Database(dbPath, { readonly: true });
    const tables = (raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(['audit_events', 'audit_program_uses', 'authorization_servers', 'client_registrations', 'credential_servers', 'credentials', 'idp_sessions', 'program_approvals', 'resource_policies', 'sealing']);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('should keep everything across a restart', () => {
    let store = TokenStore.open(dbPath);
    store.saveAuthorizationServer('https://as.example.com', { issuer: 'https://as.example.com' });
    store.saveClientRegistration({
      issuer: 'https://as.example.com', clientId: 'client-1', clientSecret: new Secret('cs'), tokenEndpointAuthMethod: 'client_secret_basic',
      registrationAccessToken: new Secret('rat'), registrationClientUri: null, redirectUris: ['http://127.0.0.1/callback'], kind: 'dynamic',
    });
    store.saveCredential(credential({ resource: 'https://MCP.example.com/mcp' }));
    store.close();

    store = TokenStore.open(dbPath);
    const record = store.findByServerUrl('https://mcp.example.com/mcp');
    expect(record?.resource).toBe('https://MCP.example.com/mcp'); // verbatim, never rewritten
    expect(record?.accessToken.reveal()).toBe('at-1');
    expect(record?.refreshToken?.reveal()).toBe('rt-1');
    expect(store.getClientRegistration('https://as.example.com')?.clientSecret?.reveal()).toBe('cs');
    expect(store.getAuthorizationServer('https://as.example.com')?.metadata).toEqual({ issuer: 'https://as.example.com' });
    store.close();
  });

  it('should create the database and its WAL owner-only', () => {
    const store = TokenStore.open(dbPath);
    store.saveCredential(credential());
    for (const file of [dbPath, `${dbPath}-wal`]) expect(statSync(file).mode & 0o777).toBe(0o600);
    store.close();
  });

  it('should refuse a database file that group or others can read, naming the fix', () => {
    TokenStore.open(dbPath).close();
    chmodSync(dbPath, 0o644);
    expect(() => TokenStore.open(dbPath)).toThrow(/mode 0644.*chmod 600/);
  });

  it('should refuse a state directory that group or others can enter', () => {
    chmodSync(home.paths.home, 0o755);
    expect(() => ensurePrivateDirectory(home.paths.home)).toThrow(/mode 0755.*chmod 700/);
  });

  it('should refuse a database whose schema is newer than it knows', () => {
    const raw = new Database(dbPath);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => TokenStore.open(dbPath)).toThrow(/schema version 99/);
  });

  it('should refuse a corrupt database instead of serving from it', () => {
    writeFileSync(join(home.paths.home, 'mcpauthd.db'), Buffer.alloc(8192, 7), { mode: 0o600 });
    expect(() => TokenStore.open(dbPath)).toThrow(/cannot open|integrity|not a database/i);
  });

  it('should find credentials by exact resource or exact server URL only', () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    store.saveCredential(credential({ resource: 'https://a.example/mcp', serverUrl: 'https://a.example/mcp' }));
    store.saveCredential(credential({ resource: 'https://a.example/mcp2', serverUrl: 'https://a.example/mcp2', accessToken: new Secret('at-2') }));
    expect(store.findByResource('https://a.example/mcp')?.accessToken.reveal()).toBe('at-1');
    expect(store.findByResource('https://A.EXAMPLE:443/mcp#x')?.accessToken.reveal()).toBe('at-1');
    for (const miss of ['https://a.example/mcp/x', 'https://a.example/', 'http://a.example/mcp', 'https://a.example:444/mcp', 'https://a.example/mc']) {
      expect(store.findByResource(miss)).toBeUndefined();
      expect(store.findByServerUrl(miss)).toBeUndefined();
    }
    store.close();
  });

  it('should map several server URLs to one resource', () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    store.saveCredential(credential({ resource: 'https://a.example', serverUrl: 'https://a.example/mcp' }));
    store.saveCredential(credential({ resource: 'https://a.example', serverUrl: 'https://a.example/sse', accessToken: new Secret('at-2') }));
    expect(store.count()).toBe(1);
    expect(store.findByServerUrl('https://a.example/mcp')?.accessToken.reveal()).toBe('at-2');
    expect(store.findByServerUrl('https://a.example/sse')?.serverUrls.sort()).toEqual(['https://a.example/mcp', 'https://a.example/sse']);
    expect(store.deleteCredential('https://a.example/')).toBe(true);
    expect(store.findByServerUrl('https://a.example/mcp')).toBeUndefined();
    store.close();
  });

  it('T2: should store a rotation only over the refresh token that was presented', () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    const saved = store.saveCredential(credential());
    const rotated = store.rotateTokens(saved.resourceKey, new Secret('rt-1'), {
      accessToken: new Secret('at-2'), tokenType: 'Bearer', expiresAt: 3_000_000, refreshToken: new Secret('rt-2'), refreshAt: 2_500_000,
    });
    expect(rotated?.refreshToken?.reveal()).toBe('rt-2');
    // A late writer holding the old refresh token must not overwrite the newer rotation.
    const stale = store.rotateTokens(saved.resourceKey, new Secret('rt-1'), {
      accessToken: new Secret('at-x'), tokenType: 'Bearer', expiresAt: 1, refreshToken: new Secret('rt-x'), refreshAt: 1,
    });
    expect(stale).toBeUndefined();
    expect(store.getByKey(saved.resourceKey)?.accessToken.reveal()).toBe('at-2');
    // No new refresh token in the response: the old one stays (RFC 6749 §6).
    const kept = store.rotateTokens(saved.resourceKey, new Secret('rt-2'), { accessToken: new Secret('at-3'), tokenType: 'Bearer', expiresAt: 4, refreshToken: null, refreshAt: 3 });
    expect(kept?.refreshToken?.reveal()).toBe('rt-2');
    store.close();
  });

  it('T2: should keep the refresh token of a rejected answer only over the one presented, leaving the access token as it was', () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    const saved = store.saveCredential(credential());
    const failure = { lastError: 'the answer failed the audience_mismatch check', nextAttemptAt: 5_000, failureCount: 1 };
    expect(store.keepIssuedRefreshToken(saved.resourceKey, new Secret('rt-1'), new Secret('rt-2'), failure)).toBe(true);
    const kept = store.getByKey(saved.resourceKey)!;
    expect(kept.refreshToken?.reveal()).toBe('rt-2');
    expect(kept.accessToken.equals(saved.accessToken)).toBe(true);
    expect(kept).toMatchObject({ state: 'error', lastError: failure.lastError, nextAttemptAt: 5_000, failureCount: 1, expiresAt: saved.expiresAt, scopes: saved.scopes });
    // A late writer holding the retired refresh token changes nothing.
    expect(store.keepIssuedRefreshToken(saved.resourceKey, new Secret('rt-1'), new Secret('rt-x'), failure)).toBe(false);
    expect(store.getByKey(saved.resourceKey)?.refreshToken?.reveal()).toBe('rt-2');
    store.close();
  });

  it('should never print a token when a record is logged or serialised', () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    const record = store.saveCredential(credential());
    const printed = `${JSON.stringify(record)} ${String(record.accessToken)}`;
    expect(printed).not.toContain('at-1');
    expect(printed).not.toContain('rt-1');
    store.close();
  });
});
