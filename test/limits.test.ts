/**
 * Every limit has a named default, the documented value, and a test of its
 * behaviour. The behaviour tests live next to the code they exercise; this
 * file checks that the documents state the real defaults and tests the limits that had no
 * test of their own (concurrent connections, the exact frame-size boundary,
 * the same-origin redirect cap).
 *
 * Where each limit's behaviour is tested:
 * - frame size, partial frame timeout, in-flight per connection, idle timeout:
 *   test/daemon/socket-server.test.ts (and the exact frame boundary here)
 * - concurrent connections: here
 * - logins in progress (MAX_PENDING_LOGINS): test/daemon/login-flow.test.ts
 * - response size and time of metadata, registration and token responses
 *   (openid-client's customFetch included), redirects: test/daemon/http-fetch.test.ts,
 *   test/daemon/oauth-client.test.ts, test/hostile-peers.test.ts, and the redirect cap here
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HTTP_TIMEOUT_MS, MAX_REDIRECTS, MAX_RESPONSE_BYTES, fetchMetadataDocument } from '../daemon/oauth/http-fetch.js';
import { MAX_PENDING_LOGINS } from '../daemon/login/login-registry.js';
import { DEFAULT_LIMITS } from '../daemon/server/socket-server.js';
import { MAX_FRAME_BYTES, encodeFrame } from '../shared/protocol/framing.js';
import { AuthdError } from '../shared/errors.js';
import { REPO_ROOT } from './helpers/daemon-process.js';
import { startTestDaemon, type TestDaemon } from './helpers/in-process-daemon.js';
import { openRaw, type RawClient } from './helpers/raw-socket.js';
import { until } from './helpers/until.js';
import { json, startTinyServer, type TinyServer } from './daemon/support/tiny-http.js';

async function served(raw: RawClient, id: number): Promise<void> {
  raw.write(encodeFrame('request', { v: 1, id, method: 'hello', params: { versions: [1] } }));
  expect(await raw.nextFrame()).toMatchObject({ type: 'response', data: { id, ok: true } });
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// The documents state the defaults the code has: built from the constants, so a
// changed default fails here until the documents say the new value.
describe('limits: the documented defaults are the real ones', () => {
  const seconds = (ms: number) => `${ms / 1000} s`;

  it('docs/protocol.md states the socket limits', () => {
    const protocol = readFileSync(join(REPO_ROOT, 'docs', 'protocol.md'), 'utf8').replace(/\s+/g, ' ');
    for (const text of [
      `**${MAX_FRAME_BYTES} bytes**`,
      `within **${seconds(DEFAULT_LIMITS.frameTimeoutMs)}**`,
      `after **${seconds(DEFAULT_LIMITS.idleTimeoutMs)}**`,
      `At most **${DEFAULT_LIMITS.maxInFlightPerConnection}** requests`,
      `at most **${DEFAULT_LIMITS.maxConnections}** connections`,
    ]) expect(protocol).toContain(text);
  });

  it('docs/security.md lists every limit with its default', () => {
    const security = readFileSync(join(REPO_ROOT, 'docs', 'security.md'), 'utf8').replace(/\s+/g, ' ');
    for (const text of [
      `${DEFAULT_LIMITS.maxConnections} connections`,
      `${MAX_FRAME_BYTES} bytes`,
      `${DEFAULT_LIMITS.maxInFlightPerConnection} requests`,
      seconds(DEFAULT_LIMITS.idleTimeoutMs),
      seconds(DEFAULT_LIMITS.frameTimeoutMs),
      `${MAX_PENDING_LOGINS} logins`,
      `${MAX_RESPONSE_BYTES / 1024} KiB`,
      seconds(HTTP_TIMEOUT_MS),
      `${MAX_REDIRECTS} same-origin redirects`,
    ]) expect(security).toContain(text);
  });
});

describe('limits: socket', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon({ limits: { maxConnections: 4, frameTimeoutMs: 500, idleTimeoutMs: 5_000 } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('should refuse connections beyond maxConnections and accept again once one closes', async () => {
    const open: RawClient[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const raw = await openRaw(t.home.paths.socket);
        open.push(raw);
        await served(raw, i + 1);
      }
      expect(t.daemon.server.connectionCount).toBe(4);
      const extra = await openRaw(t.home.paths.socket);
      // The listener closes it at once; nothing it sends is read.
      extra.write(encodeFrame('request', { v: 1, id: 99, method: 'status' }));
      await within(extra.closed, 2000, 'the fifth connection closed');
      await expect(extra.nextFrame()).rejects.toThrow('connection closed');
      expect(t.daemon.server.connectionCount).toBe(4);

      open.shift()?.close();
      await until(() => t.daemon.server.connectionCount === 3, 'the daemon to see the closed connection go');
      const again = await openRaw(t.home.paths.socket);
      open.push(again);
      await served(again, 100);
    } finally {
      for (const raw of open) raw.close();
    }
  });

  it('should take a frame of exactly MAX_FRAME_BYTES and close on one byte more', async () => {
    // Padding goes into an unknown envelope field, which the protocol ignores on purpose.
    const frameOf = (bytes: number): string => {
      const base = JSON.stringify({ type: 'request', data: { v: 1, id: 1, method: 'hello', params: { versions: [1] }, pad: '' } });
      return `${base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - base.length)}"`)}\f`;
    };
    const exact = frameOf(MAX_FRAME_BYTES);
    expect(Buffer.byteLength(exact) - 1).toBe(MAX_FRAME_BYTES);
    const fits = await openRaw(t.home.paths.socket);
    fits.write(exact);
    expect(await fits.nextFrame()).toMatchObject({ data: { id: 1, ok: true } });
    fits.close();

    const over = await openRaw(t.home.paths.socket);
    over.write(frameOf(MAX_FRAME_BYTES + 1));
    await within(over.closed, 2000, 'an oversized frame closed its connection');
    await expect(over.nextFrame()).rejects.toThrow('connection closed');
  });
});

describe('limits: redirects', () => {
  let server: TinyServer;
  beforeAll(async () => {
    server = await startTinyServer({
      '/loop': (_req, res) => {
        res.writeHead(302, { location: '/loop' }).end();
      },
      '/hop3': (_req, res) => {
        res.writeHead(302, { location: '/hop2' }).end();
      },
      '/hop2': (_req, res) => {
        res.writeHead(302, { location: '/hop1' }).end();
      },
      '/hop1': (_req, res) => {
        res.writeHead(302, { location: '/doc' }).end();
      },
      '/doc': (_req, res) => json(res, 200, { ok: true }),
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it(`should follow at most ${MAX_REDIRECTS} same-origin redirects for a metadata document`, async () => {
    expect(await fetchMetadataDocument(`${server.origin}/hop3`, 'metadata', { allowInsecureLoopback: true })).toMatchObject({ found: true, json: { ok: true } });
    server.requests.length = 0;
    const err = await fetchMetadataDocument(`${server.origin}/loop`, 'metadata', { allowInsecureLoopback: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthdError);
    expect((err as AuthdError).data?.['reason']).toBe('too_many_redirects');
    expect(server.requests).toHaveLength(MAX_REDIRECTS + 1);
  });
});
