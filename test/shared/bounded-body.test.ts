/**
 * readBoundedBody() (shared/bounded-body.ts), the one capped body reader of
 * the daemon's HTTP client and doctor's metadata probe, against a real HTTP
 * server on 127.0.0.1; and doctor now refusing what the daemon refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_METADATA_BYTES, probeAuthorizationServer } from '../../client/cli/metadata-probe.js';
import { discardBody, readBoundedBody } from '../../shared/bounded-body.js';
import { startTinyServer, type TinyServer } from '../daemon/support/tiny-http.js';

const CAP = 1024;
let server: TinyServer;

beforeAll(async () => {
  server = await startTinyServer({
    '/small': (_req, res) => void res.end('{"a":1}'),
    '/exact': (_req, res) => void res.end('x'.repeat(CAP)),
    '/chunked': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 4; i += 1) res.write('x'.repeat(CAP / 2));
      res.end();
    },
    '/declared': (_req, res) => {
      res.writeHead(200, { 'content-length': String(CAP + 1) });
      res.write('{'); // never completes: only the header can end this read
    },
    '/empty': (_req, res) => void res.writeHead(204).end(),
    // Doctor's probe: an issuer whose metadata declares more than the cap and trickles.
    '/.well-known/oauth-authorization-server/declared': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_METADATA_BYTES + 1) });
      res.write('{');
    },
    // Doctor's probe: metadata that is not UTF-8 (the daemon's parser refuses it).
    '/.well-known/oauth-authorization-server/latin1': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.concat([Buffer.from(`{"issuer":"${server.origin}/latin1","x":"`), Buffer.from([0xe9]), Buffer.from('"}')]));
    },
  });
});
afterAll(async () => {
  await server.stop();
});

describe('readBoundedBody()', () => {
  it('should return a body within the cap, up to the cap exactly', async () => {
    const small = await readBoundedBody(await fetch(`${server.origin}/small`), CAP);
    expect(small.ok && Buffer.from(small.body).toString()).toBe('{"a":1}');
    const exact = await readBoundedBody(await fetch(`${server.origin}/exact`), CAP);
    expect(exact.ok && exact.body.byteLength).toBe(CAP);
  });

  it('should stop reading a body that grows past the cap while it is read', async () => {
    expect(await readBoundedBody(await fetch(`${server.origin}/chunked`), CAP)).toEqual({ ok: false, reason: 'too_large' });
  });

  it('should refuse a body that declares more than the cap without waiting for it', async () => {
    expect(await readBoundedBody(await fetch(`${server.origin}/declared`), CAP)).toEqual({ ok: false, reason: 'too_large' });
  });

  it('should read a response without a body as empty', async () => {
    const empty = await readBoundedBody(await fetch(`${server.origin}/empty`), CAP);
    expect(empty.ok && empty.body.byteLength).toBe(0);
  });
});

describe('discardBody()', () => {
  it('should drop a body unread, and not mind one already read or a response without one', async () => {
    await expect(discardBody(await fetch(`${server.origin}/chunked`))).resolves.toBeUndefined();
    const read = await fetch(`${server.origin}/small`);
    await read.text();
    await expect(discardBody(read)).resolves.toBeUndefined();
    await expect(discardBody(await fetch(`${server.origin}/empty`))).resolves.toBeUndefined();
  });
});

describe('doctor reads metadata bodies the daemon\'s way', () => {
  // Doctor's reader counted bytes only, so it waited for the whole timeout here.
  it('should refuse metadata that declares more than the cap at once (doctor waited for its timeout)', async () => {
    const result = await probeAuthorizationServer(`${server.origin}/declared`, { timeoutMs: 60_000 });
    expect(result.ok ? '' : result.reason).toContain(`larger than ${MAX_METADATA_BYTES} bytes`);
  });

  // Doctor decoded bytes leniently; the daemon's parseJsonObject refuses bytes that are not UTF-8.
  it('should refuse metadata that is not UTF-8, as the daemon does (doctor accepted it)', async () => {
    const result = await probeAuthorizationServer(`${server.origin}/latin1`, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ ok: false, kind: 'answer' });
    expect(result.ok ? '' : result.reason).toContain('not JSON metadata');
  });
});
