import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  mayHaveReachedServer,
  createCustomFetch,
  describeUrl,
  fetchMetadataDocument,
  httpRequest,
  MAX_RESPONSE_BYTES,
  parseJsonObject,
} from '../../daemon/oauth/http-fetch.js';
import type { FetchFunction, ObservedResponse } from '../../daemon/oauth/http-fetch.js';
import { json, startTinyServer } from './support/tiny-http.js';
import type { TinyServer } from './support/tiny-http.js';
import { failure } from './support/expect-failure.js';

const LOOPBACK = { allowInsecureLoopback: true };


const neverFetch: FetchFunction = () => {
  throw new Error('no request may be made');
};

describe('http-fetch', () => {
  let server: TinyServer;
  beforeAll(async () => {
    server = await startTinyServer({
      '/ok': (_req, res) => json(res, 200, { hello: 'world' }),
      '/big-chunked': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = 'x'.repeat(64 * 1024);
        for (let i = 0; i < 6; i += 1) res.write(chunk);
        res.end();
      },
      '/big-declared': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_RESPONSE_BYTES + 1) });
        res.write('{');
        // Never completes: the client must refuse on the header alone.
      },
      '/hang-body': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial":');
      },
      '/not-json': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>secret-looking-body-123</html>');
      },
      '/redirect-same': (_req, res) => {
        res.writeHead(302, { location: '/ok' }).end();
      },
      '/redirect-other': (_req, res) => {
        res.writeHead(302, { location: 'http://127.0.0.2:1/elsewhere' }).end();
      },
      '/missing': (_req, res) => {
        res.writeHead(404).end();
      },
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('A5: refuses plain http to a non-loopback host before any request', async () => {
    const err = await failure(httpRequest('http://example.com/x', { what: 'metadata' }, { allowInsecureLoopback: true, fetch: neverFetch }));
    expect(err.code).toBe('INVALID_RESOURCE');
    expect(err.message).toMatch(/only https is allowed/);
  });

  it('A5: refuses plain http to loopback unless the user opted in', async () => {
    const err = await failure(httpRequest(`${server.origin}/ok`, { what: 'metadata' }, { allowInsecureLoopback: false, fetch: neverFetch }));
    expect(err.code).toBe('INVALID_RESOURCE');
    expect(err.message).toMatch(/--insecure-loopback/);
  });

  it('A5: allows plain http to loopback with the opt-in', async () => {
    const response = await httpRequest(`${server.origin}/ok`, { what: 'metadata' }, LOOPBACK);
    expect(response.status).toBe(200);
    expect(parseJsonObject(response.body, 'metadata', response.url)).toEqual({ hello: 'world' });
  });

  it('caps a chunked response while reading it', async () => {
    const err = await failure(httpRequest(`${server.origin}/big-chunked`, { what: 'metadata' }, LOOPBACK));
    expect(err.code).toBe('HTTP_FAILED');
    expect(err.data?.['reason']).toBe('too_large');
  });

  it('refuses a declared Content-Length beyond the cap without reading', async () => {
    const err = await failure(httpRequest(`${server.origin}/big-declared`, { what: 'metadata' }, LOOPBACK));
    expect(err.data?.['reason']).toBe('too_large');
  });

  it('times out on a body that never ends', async () => {
    const err = await failure(httpRequest(`${server.origin}/hang-body`, { what: 'metadata' }, { ...LOOPBACK, timeoutMs: 150 }));
    expect(err.data?.['reason']).toBe('timeout');
    expect(err.message).toMatch(/no answer within 0.15 s/);
    // The server may be acting on it: for a refresh the outcome is unknown.
    expect(mayHaveReachedServer(err)).toBe(true);
  });

  it('reports a refused connection with its code', async () => {
    const closed = await startTinyServer();
    const url = `${closed.origin}/x`;
    await closed.stop();
    const err = await failure(httpRequest(url, { what: 'metadata' }, LOOPBACK));
    expect(err.data?.['reason']).toBe('network');
    expect(err.message).toMatch(/ECONNREFUSED/);
    // Nothing was sent: a refresh may safely be retried.
    expect(mayHaveReachedServer(err)).toBe(false);
  });

  it('honours a cancel signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(httpRequest(`${server.origin}/ok`, { what: 'metadata' }, { ...LOOPBACK, signal: controller.signal }));
    expect(err.data?.['reason']).toBe('aborted');
  });

  it('follows a same-origin redirect for metadata and refuses a cross-origin one', async () => {
    const same = await fetchMetadataDocument(`${server.origin}/redirect-same`, 'metadata', LOOPBACK);
    expect(same).toEqual({ found: true, url: `${server.origin}/ok`, json: { hello: 'world' } });
    const err = await failure(fetchMetadataDocument(`${server.origin}/redirect-other`, 'metadata', LOOPBACK));
    expect(err.data?.['reason']).toBe('cross_origin_redirect');
  });

  it('does not follow redirects unless asked', async () => {
    const response = await httpRequest(`${server.origin}/redirect-same`, { what: 'token endpoint', method: 'POST' }, LOOPBACK);
    expect(response.status).toBe(302);
  });

  it('reports a 404 metadata document as not found, and non-JSON as an error that does not echo the body', async () => {
    expect(await fetchMetadataDocument(`${server.origin}/missing`, 'metadata', LOOPBACK)).toEqual({
      found: false,
      url: `${server.origin}/missing`,
      status: 404,
    });
    const err = await failure(fetchMetadataDocument(`${server.origin}/not-json`, 'metadata', LOOPBACK));
    expect(err.data?.['reason']).toBe('not_json');
    expect(err.message).not.toContain('secret-looking-body');
  });

  it('parseJsonObject refuses arrays, scalars and invalid UTF-8', () => {
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
    expect(() => parseJsonObject(bytes('[1,2]'), 'x', 'http://127.0.0.1/')).toThrow(/not a JSON object/);
    expect(() => parseJsonObject(bytes('"str"'), 'x', 'http://127.0.0.1/')).toThrow(/not a JSON object/);
    expect(() => parseJsonObject(new Uint8Array([0x7b, 0xff, 0x7d]), 'x', 'http://127.0.0.1/')).toThrow(/not valid JSON/);
  });

  it('names URLs in messages without their query', () => {
    expect(describeUrl('https://as.example/token?code=abc#frag')).toBe('https://as.example/token');
  });

  it('createCustomFetch applies the same policy to openid-client and shows the raw body to its observer', async () => {
    const seen: ObservedResponse[] = [];
    const customFetch = createCustomFetch(LOOPBACK, 'authorization server', (r) => seen.push(r));
    const response = await customFetch(`${server.origin}/ok`, { method: 'GET', headers: {} });
    expect(await response.json()).toEqual({ hello: 'world' });
    expect(seen).toHaveLength(1);
    expect(new TextDecoder().decode(seen[0]?.body)).toBe('{"hello":"world"}');

    const strict = createCustomFetch({ allowInsecureLoopback: false }, 'authorization server');
    await expect(strict(`${server.origin}/ok`, { method: 'GET', headers: {} })).rejects.toMatchObject({ code: 'INVALID_RESOURCE' });
    await expect(customFetch(`${server.origin}/big-chunked`, { method: 'GET', headers: {} })).rejects.toMatchObject({
      data: { reason: 'too_large' },
    });
  });
});
