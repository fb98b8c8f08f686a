import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../../client/index.js';
import { Secret } from '../../daemon/store/secret.js';
import { encodeFrame } from '../../shared/protocol/framing.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { openRaw } from '../helpers/raw-socket.js';

const HOUR = 3_600_000;

describe('socket server', () => {
  let t: TestDaemon;
  let client: McpAuthdClient;

  beforeAll(async () => {
    t = await startTestDaemon({ limits: { frameTimeoutMs: 200, maxInFlightPerConnection: 4, idleTimeoutMs: 1000 } });
    for (let i = 0; i < 50; i++) {
      t.daemon.store.saveCredential({
        resource: `https://mcp${i}.example.com/mcp`, serverUrl: `https://mcp${i}.example.com/mcp`, issuer: 'https://as.example.com', clientId: 'c',
        scopes: ['mcp:tools'], accessToken: new Secret(`access-token-${i}`), tokenType: 'Bearer', expiresAt: Date.now() + HOUR, refreshToken: null, refreshAt: null,
      });
    }
    client = new McpAuthdClient({ socket: t.home.paths.socket });
  });

  afterAll(async () => {
    client.close();
    await t.stop();
  });

  /** The proof after every bad input: another client is still served, correctly. */
  async function stillServes(): Promise<void> {
    const other = new McpAuthdClient({ socket: t.home.paths.socket });
    try {
      expect((await other.getToken('https://mcp7.example.com/mcp')).access_token).toBe('access-token-7');
    } finally {
      other.close();
    }
  }

  it('should answer a round trip with the token of exactly that server', async () => {
    const result = await client.getToken('https://mcp3.example.com/mcp');
    expect(result).toMatchObject({ access_token: 'access-token-3', token_type: 'Bearer', resource: 'https://mcp3.example.com/mcp', scopes: ['mcp:tools'] });
    await expect(client.getToken('https://mcp3.example.com/mcp/x')).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.getToken('https://mcp3.example.com/mc')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('should serve 50 concurrent clients, each its own token', async () => {
    const clients = Array.from({ length: 50 }, () => new McpAuthdClient({ socket: t.home.paths.socket }));
    try {
      const results = await Promise.all(
        clients.map(async (c, i) => {
          const tokens = [];
          for (let n = 0; n < 10; n++) tokens.push((await c.getToken(`https://mcp${i}.example.com/mcp`)).access_token);
          return tokens;
        }),
      );
      results.forEach((tokens, i) => expect(new Set(tokens)).toEqual(new Set([`access-token-${i}`])));
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('should refuse scopes that were not granted, saying what a step-up needs', async () => {
    await expect(client.getToken('https://mcp1.example.com/mcp', { scopes: ['mcp:admin'] })).rejects.toMatchObject({
      code: 'insufficient_scope',
      data: { missing: ['mcp:admin'], scope: 'mcp:tools mcp:admin' },
    });
  });

  it('should close the connection on malformed JSON and keep serving others', async () => {
    const raw = await openRaw(t.home.paths.socket);
    raw.write('{"type":"request","data":{oops}\f');
    await raw.closed;
    await stillServes();
  });

  it('should close the connection on a 2 MiB frame and keep serving others', async () => {
    const raw = await openRaw(t.home.paths.socket);
    raw.write(`{"type":"request","data":"${'a'.repeat(2 * 1024 * 1024)}"}\f`);
    await raw.closed;
    await stillServes();
  });

  it('should close the connection on a reserved or unlisted event name', async () => {
    for (const type of ['connect', 'error', 'constructor', 'token.get']) {
      const raw = await openRaw(t.home.paths.socket);
      raw.write(`${JSON.stringify({ type, data: {} })}\f`);
      await raw.closed;
    }
    await stillServes();
  });

  it('should answer an unknown method, wrong types and __proto__ with invalid_request-class errors', async () => {
    const raw = await openRaw(t.home.paths.socket);
    const cases: [unknown, string][] = [
      [{ v: 1, id: 1, method: 'secrets.dump' }, 'unsupported_method'],
      [{ v: 1, id: 2, method: 'token.get', params: { server_url: ['x'] } }, 'invalid_request'],
      [{ v: 1, id: 3, method: 'token.get', params: { server_url: 'https://mcp1.example.com/mcp', min_ttl: -1 } }, 'invalid_request'],
      [JSON.parse('{"v":1,"id":4,"method":"token.get","params":{"server_url":"https://mcp1.example.com/mcp","__proto__":{"x":1}}}'), 'invalid_request'],
      [{ v: 1, id: 5, method: 'token.get', params: 'nope' }, 'invalid_request'],
      [{ v: 9, id: 6, method: 'status' }, 'unsupported_version'],
    ];
    for (const [data, code] of cases) {
      raw.write(encodeFrame('request', data));
      const reply = await raw.nextFrame();
      expect(reply).toMatchObject({ type: 'response', data: { ok: false, error: { code } } });
    }
    // The same connection still works after refusals.
    raw.write(encodeFrame('request', { v: 1, id: 9, method: 'token.get', params: { server_url: 'https://mcp2.example.com/mcp' } }));
    expect(await raw.nextFrame()).toMatchObject({ data: { id: 9, ok: true, result: { access_token: 'access-token-2' } } });
    raw.close();
    await stillServes();
  });

  it('should survive a client that disconnects mid-request', async () => {
    for (let i = 0; i < 20; i++) {
      const raw = await openRaw(t.home.paths.socket);
      raw.write(encodeFrame('request', { v: 1, id: 1, method: 'status' }));
      raw.close();
    }
    await stillServes();
    expect(t.logs()).not.toMatch(/"level":"error"/);
  });

  it('should close a connection that sends half a frame and stalls', async () => {
    const raw = await openRaw(t.home.paths.socket);
    raw.write('{"type":"request","data":{"v":1,');
    const started = performance.now();
    await raw.closed; // closed by the incomplete-frame timer (200 ms), well before the idle timer (1 s)
    expect(performance.now() - started).toBeLessThan(900);
    await stillServes();
  });

  it('should answer busy beyond the in-flight cap on one connection rather than queue without bound', async () => {
    const raw = await openRaw(t.home.paths.socket);
    let frames = '';
    for (let id = 1; id <= 40; id++) frames += encodeFrame('request', { v: 1, id, method: 'status' });
    raw.write(frames);
    const replies = [];
    for (let i = 0; i < 40; i++) replies.push(await raw.nextFrame());
    const codes = replies.map((r) => ((r.data as { ok: boolean; error?: { code: string } }).ok ? 'ok' : (r.data as { error: { code: string } }).error.code));
    expect(codes.filter((c) => c === 'ok').length).toBeGreaterThanOrEqual(4);
    expect(codes.every((c) => c === 'ok' || c === 'busy')).toBe(true);
    expect(codes).toContain('busy');
    raw.close();
    await stillServes();
  });

  it('should close idle connections but keep subscribed ones open', async () => {
    const subscribed = await openRaw(t.home.paths.socket);
    subscribed.write(encodeFrame('request', { v: 1, id: 1, method: 'subscribe' }));
    expect(await subscribed.nextFrame()).toMatchObject({ data: { id: 1, ok: true } });
    const idle = await openRaw(t.home.paths.socket);
    await idle.closed; // the daemon closes it after the idle timeout
    // The subscriber connected earlier, so it has been idle at least as long.
    expect(subscribed.socket.destroyed).toBe(false);
    subscribed.write(encodeFrame('request', { v: 1, id: 2, method: 'status' }));
    expect(await subscribed.nextFrame()).toMatchObject({ data: { id: 2, ok: true } });
    subscribed.close();
  });

  it('should report status without any token in it', async () => {
    const status = await client.status();
    expect(status.credentials).toHaveLength(50);
    expect(status.daemon.pid).toBe(process.pid);
    expect(JSON.stringify(status)).not.toMatch(/access-token-/);
    expect(t.logs()).not.toMatch(/access-token-/);
  });
});
