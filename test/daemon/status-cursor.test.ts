/**
 * Issue 12 item 9: `status` pages by key. A login or logout between two pages
 * neither skips nor repeats a credential, and paging through 10,000
 * credentials reads each row about once (no token is decoded for it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../../client/index.js';
import { Secret } from '../../daemon/store/secret.js';
import type { TokenStore } from '../../daemon/store/token-store.js';
import { type StatusResult } from '../../shared/protocol/types.js';
import { encodeFrame } from '../../shared/protocol/framing.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { openRaw } from '../helpers/raw-socket.js';

function plant(store: TokenStore, names: readonly string[]): void {
  store.transaction(() => {
    for (const name of names) {
      const url = `https://${name}.example.com/${'p'.repeat(200)}`;
      store.saveCredential({
        resource: url, serverUrl: url, issuer: 'https://as.example.com', clientId: 'c', scopes: ['mcp:tools'],
        accessToken: new Secret(`at-cursor-${name}`), tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, refreshToken: new Secret(`rt-cursor-${name}`), refreshAt: null,
      });
    }
  });
}

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
const hostOf = (resource: string): string => new URL(resource).hostname.split('.')[0] as string;

async function page(raw: Awaited<ReturnType<typeof openRaw>>, id: number, params: Record<string, unknown>): Promise<StatusResult & { next_cursor?: string | null }> {
  raw.write(encodeFrame('request', { v: 1, id, method: 'status', params }));
  const frame = await raw.nextFrame();
  const data = frame.data as { ok: boolean; result: StatusResult & { next_cursor?: string | null }; error?: unknown };
  if (!data.ok) throw new Error(`status failed: ${JSON.stringify(data.error)}`);
  return data.result;
}

describe('status paged by cursor', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(async () => t.stop());

  it('a login and a logout between pages should neither skip nor repeat a credential', async () => {
    plant(t.daemon.store, names('m', 400));
    const raw = await openRaw(t.home.paths.socket);
    const first = await page(raw, 1, {});
    expect(first.next_cursor).toEqual(expect.any(String));
    const seen = first.credentials.map((c) => hostOf(c.resource));
    // Meanwhile: a logout of a credential already shown, a login that sorts before the cursor.
    expect(t.daemon.store.deleteCredential(t.daemon.store.findByResource(first.credentials[0]!.resource)!.resourceKey)).toBe(true);
    plant(t.daemon.store, ['a-new-login']);
    let cursor = first.next_cursor ?? null;
    for (let id = 2; cursor !== null; id++) {
      const next = await page(raw, id, { cursor });
      seen.push(...next.credentials.map((c) => hostOf(c.resource)));
      cursor = next.next_cursor ?? null;
    }
    raw.close();
    expect(seen).toEqual(names('m', 400));
    for (const name of names('m', 400)) t.daemon.store.deleteCredential(`https://${name}.example.com/${'p'.repeat(200)}`);
    for (const name of ['a-new-login']) t.daemon.store.deleteCredential(`https://${name}.example.com/${'p'.repeat(200)}`);
  });

  it('10,000 credentials: the client gets all of them, and the store reads each row about once', async () => {
    const count = 10_000;
    const store = t.daemon.store;
    plant(store, names('n', count));
    // Count the rows the store hands to the status handler, whichever method it uses.
    let rowsRead = 0;
    const spied = store as unknown as Record<string, unknown>;
    const originals = new Map<string, (...args: unknown[]) => unknown>();
    for (const name of ['list', 'listSummaries']) {
      const original = spied[name];
      if (typeof original !== 'function') continue;
      originals.set(name, original as (...args: unknown[]) => unknown);
      spied[name] = (...args: unknown[]): unknown => {
        const rows = (original as (...a: unknown[]) => unknown).apply(store, args);
        if (Array.isArray(rows)) rowsRead += rows.length;
        return rows;
      };
    }
    const client = new McpAuthdClient({ socket: t.home.paths.socket });
    try {
      const status = await client.status();
      expect(status.credentials).toHaveLength(count);
      expect(new Set(status.credentials.map((c) => c.resource)).size).toBe(count);
      expect(status.total).toBe(count);
      // Linear: every row once, plus at most one read-ahead batch per page. Offset paging over a
      // decoded list reads count × pages rows (about 10,000 × 90 here).
      expect(rowsRead).toBeGreaterThanOrEqual(count);
      expect(rowsRead).toBeLessThan(2 * count);
    } finally {
      client.close();
      for (const [name, original] of originals) spied[name] = original;
    }
  });
});
