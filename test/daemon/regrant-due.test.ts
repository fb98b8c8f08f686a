// The store's "what is due" questions include credentials renewed by running
// their grant again (issue 16: no refresh token), and only those: a browser
// login without a refresh token is never due. The index still answers them.
import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../daemon/store/schema.js';
import { RENEWABLE } from '../../daemon/store/statements.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { newCredential } from '../helpers/new-credential.js';


describe('due for renewal', () => {
  it('lists machine credentials without a refresh token, not browser ones, and uses the index', () => {
    const store = TokenStore.open(':memory:', { inMemory: true });
    try {
      store.saveCredential(newCredential({ resource: 'https://a.example/mcp', serverUrl: 'https://a.example/mcp', refreshToken: null, refreshAt: 1_000 }));
      store.saveCredential(
        newCredential({ resource: 'https://b.example/mcp', serverUrl: 'https://b.example/mcp', refreshToken: null, refreshAt: 1_100, grantKind: 'client_credentials' }),
      );
      store.saveCredential(
        newCredential({ resource: 'https://c.example/mcp', serverUrl: 'https://c.example/mcp', refreshToken: null, refreshAt: 1_200, grantKind: 'jwt_bearer', accessToken: new Secret('at-c') }),
      );
      expect(store.dueForRefresh(5_000, 10).map((r) => r.resource)).toEqual(['https://b.example/mcp', 'https://c.example/mcp']);
      expect(store.nextDueAt()).toBe(1_100);
    } finally {
      store.close();
    }
    // The scheduler's question, as statements.ts asks it, against the migrated schema.
    const db = new Database(':memory:');
    try {
      for (const migration of MIGRATIONS) db.exec(migration);
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN SELECT * FROM credentials c WHERE ${RENEWABLE} AND c.state IN ('valid','refreshing','error') AND COALESCE(c.next_attempt_at, c.refresh_at) <= 5 ORDER BY COALESCE(c.next_attempt_at, c.refresh_at)`)
        .all() as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' ')).toContain('credentials_due');
    } finally {
      db.close();
    }
  });
});
