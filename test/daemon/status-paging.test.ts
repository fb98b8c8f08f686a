import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../../client/index.js';
import { Secret } from '../../daemon/store/secret.js';
import { MAX_FRAME_BYTES, encodeFrame } from '../../shared/protocol/framing.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { openRaw } from '../helpers/raw-socket.js';

const COUNT = 600;

describe('status with many credentials', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
    const path = 'p'.repeat(300); // long URLs: a page is bounded by bytes, not by count
    t.daemon.store.transaction(() => {
      for (let i = 0; i < COUNT; i++) {
        t.daemon.store.saveCredential({
          resource: `https://mcp${i}.example.com/${path}`, serverUrl: `https://mcp${i}.example.com/${path}`, issuer: 'https://as.example.com', clientId: 'c',
          scopes: ['mcp:tools'], accessToken: new Secret(`at-${i}`), tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, refreshToken: null, refreshAt: null,
        });
      }
    });
  });
  afterAll(async () => t.stop());

  it('should answer in pages that each fit a frame, and the client should join them', async () => {
    const raw = await openRaw(t.home.paths.socket);
    const pages: { credentials: unknown[]; next_offset: number | null; total: number }[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      raw.write(encodeFrame('request', { v: 1, id: pages.length + 1, method: 'status', params: { offset } }));
      const frame = await raw.nextFrame();
      expect(Buffer.byteLength(JSON.stringify(frame))).toBeLessThan(MAX_FRAME_BYTES);
      const result = (frame.data as { result: (typeof pages)[number] }).result;
      pages.push(result);
      offset = result.next_offset;
    }
    raw.close();
    expect(pages.length).toBeGreaterThan(3);
    expect(pages.every((p) => p.total === COUNT)).toBe(true);
    expect(pages.reduce((n, p) => n + p.credentials.length, 0)).toBe(COUNT);

    const client = new McpAuthdClient({ socket: t.home.paths.socket });
    const status = await client.status();
    client.close();
    expect(status.credentials).toHaveLength(COUNT);
    expect(new Set(status.credentials.map((c) => c.resource)).size).toBe(COUNT);
    expect(status).toMatchObject({ total: COUNT, next_offset: null });
  });
});
