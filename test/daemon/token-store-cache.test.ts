/**
 * The token store's read cache (issue 8: token.get must not run SQL on its
 * hot path). Whatever was cached, every read after a write must see the
 * write, and nothing from a rolled-back transaction may ever be served.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { ensurePrivateDirectory } from '../../daemon/os/private-path.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenStore, type NewCredential } from '../../daemon/store/token-store.js';
import { newCredential } from '../helpers/new-credential.js';
import { makeTempHome } from '../helpers/temp-home.js';

const A = 'https://a.example/mcp';
const B = 'https://b.example/mcp';

const credential = (overrides: Partial<NewCredential> = {}): NewCredential => newCredential({ resource: A, serverUrl: A, ...overrides });

describe('TokenStore read cache', () => {
  let store: TokenStore;
  beforeEach(() => {
    store = TokenStore.open(':memory:', { inMemory: true });
  });
  afterEach(() => store.close());

  it('should serve repeated reads from one frozen record', () => {
    store.saveCredential(credential());
    const first = store.findByServerUrl(A);
    expect(first).toBeDefined();
    expect(store.findByServerUrl(A)).toBe(first);
    expect(store.findByResource(A)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('T2: should serve the rotated refresh token right after a rotation, never the cached one', () => {
    store.saveCredential(credential());
    const before = store.findByServerUrl(A);
    expect(before?.refreshToken?.reveal()).toBe('rt-1');
    store.rotateTokens(before!.resourceKey, new Secret('rt-1'), {
      accessToken: new Secret('at-2'),
      tokenType: 'Bearer',
      expiresAt: 3_000_000,
      refreshToken: new Secret('rt-2'),
      refreshAt: 2_500_000,
    });
    for (const read of [store.findByServerUrl(A), store.findByResource(A), store.getByKey(before!.resourceKey)]) {
      expect(read?.accessToken.reveal()).toBe('at-2');
      expect(read?.refreshToken?.reveal()).toBe('rt-2');
      expect(read?.expiresAt).toBe(3_000_000);
    }
  });

  it('should see a state change and a deletion at once', () => {
    store.saveCredential(credential());
    const key = store.findByServerUrl(A)!.resourceKey;
    store.setState(key, 'needs_login', { lastError: 'invalid_grant' });
    expect(store.findByServerUrl(A)?.state).toBe('needs_login');
    expect(store.getByKey(key)?.lastError).toBe('invalid_grant');
    expect(store.deleteCredential(key)).toBe(true);
    expect(store.findByServerUrl(A)).toBeUndefined();
    expect(store.findByResource(A)).toBeUndefined();
    expect(store.getByKey(key)).toBeUndefined();
  });

  it('should follow a server URL that moves to another credential', () => {
    store.saveCredential(credential());
    store.saveCredential(credential({ resource: B, serverUrl: B, accessToken: new Secret('at-b') }));
    expect(store.findByServerUrl(A)?.resource).toBe(A);
    expect(store.findByResource(A)?.serverUrls).toEqual([A]);
    // A new login says the server at A now belongs to resource B.
    store.saveCredential(credential({ resource: B, serverUrl: A, accessToken: new Secret('at-b2') }));
    expect(store.findByServerUrl(A)?.resource).toBe(B);
    expect(store.findByServerUrl(A)?.accessToken.reveal()).toBe('at-b2');
    expect(store.findByResource(A)?.serverUrls).toEqual([]);
    expect([...(store.findByResource(B)?.serverUrls ?? [])].sort()).toEqual([A, B]);
  });

  it('should see a write through every spelling of a server URL, and through one credential\'s write for another\'s URL', () => {
    store.saveCredential(credential());
    store.saveCredential(credential({ resource: B, serverUrl: B, accessToken: new Secret('at-b') }));
    const spellings = [A, 'HTTPS://A.EXAMPLE/mcp', 'https://a.example:443/mcp'];
    const key = store.findByServerUrl(A)!.resourceKey;
    for (const url of spellings) expect(store.findByServerUrl(url)?.accessToken.reveal()).toBe('at-1');
    expect(store.findByServerUrl(B)?.accessToken.reveal()).toBe('at-b');
    store.rotateTokens(key, new Secret('rt-1'), { accessToken: new Secret('at-2'), tokenType: 'Bearer', expiresAt: 3_000_000, refreshToken: new Secret('rt-2'), refreshAt: 2_500_000 });
    for (const url of spellings) expect(store.findByServerUrl(url)?.accessToken.reveal()).toBe('at-2');
    expect(store.findByServerUrl(B)?.accessToken.reveal()).toBe('at-b');
    store.setState(key, 'needs_login', { lastError: 'invalid_grant' });
    for (const url of spellings) expect(store.findByServerUrl(url)?.state).toBe('needs_login');
    // Never another server's token: the exact URL decides, through every cache level.
    expect(store.findByServerUrl('https://a.example/mcp/')).toBeUndefined();
    expect(store.findByServerUrl('https://a.example/mc')).toBeUndefined();
  });

  it('should forget a cached "no such server" once a login adds it', () => {
    expect(store.findByServerUrl(A)).toBeUndefined();
    store.saveCredential(credential());
    expect(store.findByServerUrl(A)?.accessToken.reveal()).toBe('at-1');
  });

  it('should never cache what a rolled-back transaction read', () => {
    store.saveCredential(credential());
    const key = store.findByServerUrl(A)!.resourceKey;
    expect(() =>
      store.transaction(() => {
        store.saveCredential(credential({ accessToken: new Secret('at-uncommitted'), refreshToken: new Secret('rt-uncommitted') }));
        store.saveCredential(credential({ resource: B, serverUrl: B }));
        // Read inside the transaction: the uncommitted rows are visible here...
        expect(store.findByServerUrl(A)?.accessToken.reveal()).toBe('at-uncommitted');
        expect(store.findByServerUrl(B)).toBeDefined();
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    // ...and must not outlive the rollback.
    expect(store.findByServerUrl(A)?.accessToken.reveal()).toBe('at-1');
    expect(store.getByKey(key)?.refreshToken?.reveal()).toBe('rt-1');
    expect(store.findByServerUrl(B)).toBeUndefined();
    expect(store.findByResource(B)).toBeUndefined();
  });

  it('should keep serving correctly after a reopen (nothing cached survives close)', () => {
    store.saveCredential(credential());
    expect(store.findByServerUrl(A)).toBeDefined();
    store.close();
    expect(() => store.findByServerUrl(A)).toThrow();
  });
});

describe('TokenStore scheduler queries (schema 2)', () => {
  it('should answer "what is due" from an index, not a scan of every credential', () => {
    const home = makeTempHome();
    try {
      process.umask(0o077);
      ensurePrivateDirectory(home.paths.home);
      TokenStore.open(home.paths.database).close();
      const raw = new Database(home.paths.database, { readonly: true });
      const plans = [
        `SELECT * FROM credentials c WHERE c.refresh_token IS NOT NULL AND c.state IN ('valid','refreshing','error')
           AND COALESCE(c.next_attempt_at, c.refresh_at) <= 5 ORDER BY COALESCE(c.next_attempt_at, c.refresh_at) LIMIT 8`,
        `SELECT min(COALESCE(next_attempt_at, refresh_at)) FROM credentials WHERE refresh_token IS NOT NULL AND state IN ('valid','refreshing','error')`,
      ].map((sql) => (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; '));
      raw.close();
      for (const plan of plans) expect(plan).toMatch(/USING INDEX credentials_due/);
    } finally {
      home.remove();
    }
  });
});
