import { describe, expect, it } from '@jest/globals';
import { StringDecoder } from 'node:string_decoder';
import { type MethodName, type Methods } from '../../shared/protocol/types.js';
import { FrameError, FrameReader, MAX_FRAME_BYTES, encodeFrame, encodeRequestFrame, encodeResultFrame, exceedsFrameCap } from '../../shared/protocol/framing.js';
import { parseRequest } from '../../shared/protocol/validate.js';
import { seededRandom } from '../helpers/seeded-random.js';

describe('encodeFrame / FrameReader', () => {
  it('should round-trip frames split at any byte', () => {
    const text = encodeFrame('request', { v: 1, id: 1, method: 'status', params: { note: 'form\ffeed é' } }) + encodeFrame('request', { v: 1, id: 2 });
    for (let cut = 1; cut < text.length; cut += 7) {
      const reader = new FrameReader();
      const frames = [...reader.push(text.slice(0, cut)), ...reader.push(text.slice(cut))];
      expect(frames.map((f) => (f.data as { id: number }).id)).toEqual([1, 2]);
    }
  });

  it('should make frame injection impossible: a form feed inside a value is escaped', () => {
    const frame = encodeFrame('request', { params: { resource: 'x\f{"type":"request"}' } });
    expect(frame.indexOf('\f')).toBe(frame.length - 1);
  });

  it('should refuse a partial frame larger than the cap before it completes', () => {
    const reader = new FrameReader();
    expect(() => reader.push('x'.repeat(MAX_FRAME_BYTES + 1))).toThrow(/exceeds/);
  });

  it('should refuse frames that are not JSON objects with a type', () => {
    expect(() => new FrameReader().push('{nope\f')).toThrow(/not valid JSON/);
    expect(() => new FrameReader().push('[1]\f')).toThrow(/"type"/);
  });
});

describe('FrameReader at its boundaries', () => {
  const frameError = (fn: () => unknown): FrameError => {
    try {
      fn();
    } catch (err) {
      if (err instanceof FrameError) return err;
      throw err;
    }
    throw new Error('expected a FrameError');
  };
  const ids = (frames: { data: unknown }[]) => frames.map((f) => (f.data as { id: number }).id);
  // Multi-byte UTF-8 of every length (2, 3 and 4 bytes, the last a surrogate pair) and an escaped form feed.
  const stream = [1, 2, 3].map((id) => encodeFrame('response', { v: 1, id, ok: true, result: { note: `é€😀\f${'x'.repeat(id * 5)}` } })).join('');
  const bytes = Buffer.from(stream, 'utf8');

  it('should decode three frames split into two chunks at every byte offset, as a utf8 socket delivers them', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      // The socket's setEncoding('utf8') holds back an incomplete character; so does StringDecoder.
      const decoder = new StringDecoder('utf8');
      const reader = new FrameReader();
      const frames = [...reader.push(decoder.write(bytes.subarray(0, cut))), ...reader.push(decoder.write(bytes.subarray(cut)))];
      expect(ids(frames)).toEqual([1, 2, 3]);
      expect(reader.pendingBytes).toBe(0);
    }
  });

  it('should decode frames fed one byte, and one UTF-16 unit, at a time', () => {
    const decoder = new StringDecoder('utf8');
    const byByte = new FrameReader();
    const fromBytes = [...bytes].flatMap((b) => byByte.push(decoder.write(Buffer.of(b))));
    expect(ids(fromBytes)).toEqual([1, 2, 3]);
    const byUnit = new FrameReader();
    const fromUnits = [...Array(stream.length).keys()].flatMap((i) => byUnit.push(stream[i] as string));
    expect(fromUnits.map((f) => f.data)).toEqual(fromBytes.map((f) => f.data));
  });

  it('should decode many frames in one chunk, in order, and keep the partial one after them', () => {
    const many = Array.from({ length: 1000 }, (_, i) => encodeFrame('response', { v: 1, id: i, ok: true, result: 'ü'.repeat(i % 7) })).join('');
    const tail = encodeFrame('response', { v: 1, id: 1000, ok: true, result: null });
    const reader = new FrameReader();
    const frames = reader.push(many + tail.slice(0, 10));
    expect(ids(frames)).toEqual([...Array(1000).keys()]);
    expect(reader.pendingBytes).toBe(10);
    expect(ids(reader.push(tail.slice(10)))).toEqual([1000]);
    expect(reader.pendingBytes).toBe(0);
  });

  it('should keep what follows a bad frame buffered, as before', () => {
    const reader = new FrameReader();
    const good = encodeFrame('response', { v: 1, id: 7 });
    expect(frameError(() => reader.push(`{nope\f${good}{"type`)).code).toBe('invalid_json');
    expect(reader.pendingBytes).toBe(Buffer.byteLength(`${good}{"type`));
    expect(ids(reader.push(''))).toEqual([7]);
  });

  // Fillers of 1, 2, 3 and 4 (a surrogate pair) UTF-8 bytes per character.
  const fillers = [
    ['ASCII', 'x', 1],
    ['2-byte', 'é', 2],
    ['3-byte', '€', 3],
    ['4-byte', '😀', 4],
  ] as const;
  /** `prefix` followed by characters until the UTF-8 length is exactly `bytes` (topped up with ASCII). */
  const ofBytes = (prefix: string, fill: string, width: number, bytes: number): string => {
    const room = bytes - Buffer.byteLength(prefix);
    const text = prefix + fill.repeat(Math.floor(room / width)) + 'x'.repeat(room % width);
    expect(Buffer.byteLength(text)).toBe(bytes);
    return text;
  };

  it.each(fillers)('should accept a partial frame of exactly the cap and refuse one byte more (%s)', (_name, fill, width) => {
    const partial = ofBytes('{"type":"response","data":"', fill, width, MAX_FRAME_BYTES);
    const reader = new FrameReader();
    expect(reader.push(partial)).toEqual([]);
    expect(reader.pendingBytes).toBe(MAX_FRAME_BYTES);
    const err = frameError(() => reader.push('x'));
    expect(err.code).toBe('frame_too_large');
    expect(err.message).toBe(`partial frame exceeds ${MAX_FRAME_BYTES} bytes`);
    // The same byte count reached in one chunk, and across many small ones.
    expect(frameError(() => new FrameReader().push(`${partial}x`)).message).toBe(`partial frame exceeds ${MAX_FRAME_BYTES} bytes`);
    const slow = new FrameReader();
    for (let i = 0; i < partial.length; i += 4096) slow.push(partial.slice(i, i + 4096));
    expect(frameError(() => slow.push('x')).code).toBe('frame_too_large');
  });

  it.each(fillers)('should decode a whole frame of exactly the cap and refuse one byte more (%s)', (_name, fill, width) => {
    const body = ofBytes('{"type":"response","data":"', fill, width, MAX_FRAME_BYTES - 2);
    const atCap = `${body}"}`;
    expect(Buffer.byteLength(atCap)).toBe(MAX_FRAME_BYTES);
    const [frame] = new FrameReader().push(`${atCap}\f`);
    expect(frame?.type).toBe('response');
    const overCap = `${body}x"}`;
    const err = frameError(() => new FrameReader().push(`${overCap}\f`));
    expect(err.code).toBe('frame_too_large');
    expect(err.message).toBe(`frame exceeds ${MAX_FRAME_BYTES} bytes`);
  });

  it.each(fillers)('should encode a frame of exactly the cap and refuse one byte more (%s)', (_name, fill, width) => {
    const envelope = Buffer.byteLength(JSON.stringify({ type: 'response', data: '' }));
    const data = ofBytes('', fill, width, MAX_FRAME_BYTES - envelope);
    expect(Buffer.byteLength(encodeFrame('response', data))).toBe(MAX_FRAME_BYTES + 1); // + the delimiter
    const err = frameError(() => encodeFrame('response', `${data}x`));
    expect(err.code).toBe('frame_too_large');
    expect(err.message).toBe(`frame of ${MAX_FRAME_BYTES + 1} bytes exceeds ${MAX_FRAME_BYTES}`);
  });

  it('exceedsFrameCap should agree with Buffer.byteLength on every length around its shortcuts', () => {
    const random = seededRandom(8);
    // Lone surrogates too: UTF-8 writes each as U+FFFD, 3 bytes.
    const units = ['a', 'é', '€', '😀', '\ud800', '\udc00', '\f'];
    // Random mixes weighted towards 1-byte units, so that some cross the cap within the range where bytes must be counted.
    const texts = [0.2, 0.5, 0.8, 0.95].map((ascii) => {
      const parts: string[] = [];
      for (let n = 0; n < MAX_FRAME_BYTES + 2; n++) parts.push(random() < ascii ? 'a' : (units[1 + Math.floor(random() * (units.length - 1))] as string));
      return parts.join('').slice(0, MAX_FRAME_BYTES + 2);
    });
    const lengths = [0, 1, MAX_FRAME_BYTES / 4, Math.floor(MAX_FRAME_BYTES / 3), Math.ceil(MAX_FRAME_BYTES / 3), MAX_FRAME_BYTES / 2, MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1];
    let over = 0;
    for (const target of lengths) {
      for (const text of texts) {
        for (const t of [text.slice(0, target), `${text.slice(0, target)}€`]) {
          over += Number(Buffer.byteLength(t) > MAX_FRAME_BYTES);
          expect(exceedsFrameCap(t)).toBe(Buffer.byteLength(t) > MAX_FRAME_BYTES);
        }
      }
      for (const [, fill] of fillers) {
        const t = fill.repeat(Math.ceil(target / fill.length)).slice(0, target);
        expect(exceedsFrameCap(t)).toBe(Buffer.byteLength(t) > MAX_FRAME_BYTES);
      }
    }
    // Exactly at the cap, then one byte over, for each width.
    for (const [, fill, width] of fillers) {
      const atCap = fill.repeat(Math.floor(MAX_FRAME_BYTES / width)) + 'a'.repeat(MAX_FRAME_BYTES % width);
      expect(Buffer.byteLength(atCap)).toBe(MAX_FRAME_BYTES);
      expect(exceedsFrameCap(atCap)).toBe(false);
      expect(exceedsFrameCap(`${atCap}a`)).toBe(true);
    }
    expect(over).toBeGreaterThan(0);
  });
});

describe('encodeRequestFrame', () => {
  const general = (id: number, method: string, params: unknown) => encodeFrame('request', { v: 1, id, method, params });
  const requests: [number, MethodName, unknown][] = [
    [1, 'token.get', { server_url: 'https://mcp.example.com/mcp' }],
    [2, 'token.get', { resource: 'https://mcp.example.com/', scopes: ['a', 'b'], min_ttl: 60 }],
    [Number.MAX_SAFE_INTEGER, 'status', {}],
    [4, 'status', { offset: 10 }],
    [5, 'login', { server_url: 'https://x/\f{"type":"request"}', client_secret: 'é€😀 \ud800 \u2028 "quoted" \\' }],
    [6, 'login.callback', { login_id: 'l', url: 'https://127.0.0.1:1/callback?code=\u0000' }],
    [7, 'token.get', { server_url: 'u', scopes: undefined }],
    [8, 'subscribe', {}],
    [9, 'hello', { versions: [1], client: 'mcpauthd 0.1.0' }],
    // Not what the client sends; the general path gives the same bytes.
    [Number.NaN, 'status', {}],
    [1.5, 'status', {}],
    [10, 'status', { toJSON: () => undefined }],
    [11, 'status', null],
    [12, 'status', undefined],
  ];

  it.each(requests)('should write exactly what encodeFrame writes (id %p, %s)', (id, method, params) => {
    const frame = encodeRequestFrame(id, method, params as Methods[MethodName]['params']);
    expect(frame).toBe(general(id, method, params));
    expect(frame.indexOf('\f')).toBe(frame.length - 1);
  });

  it('should refuse a request over the cap as encodeFrame does, and accept one at it', () => {
    const envelope = Buffer.byteLength(general(1, 'login', { server_url: '' })) - 1;
    const atCap = { server_url: '€'.repeat(Math.floor((MAX_FRAME_BYTES - envelope) / 3)) + 'x'.repeat((MAX_FRAME_BYTES - envelope) % 3) };
    expect(Buffer.byteLength(encodeRequestFrame(1, 'login', atCap))).toBe(MAX_FRAME_BYTES + 1);
    const over = { server_url: `${atCap.server_url}x` };
    expect(() => encodeRequestFrame(1, 'login', over)).toThrow(new FrameError('frame_too_large', `frame of ${MAX_FRAME_BYTES + 1} bytes exceeds ${MAX_FRAME_BYTES}`));
    expect(() => general(1, 'login', over)).toThrow(`frame of ${MAX_FRAME_BYTES + 1} bytes exceeds ${MAX_FRAME_BYTES}`);
  });
});

describe('encodeResultFrame', () => {
  const general = (id: string | number, result: unknown) => encodeFrame('response', { v: 1, id, ok: true, result });

  it('should write exactly what encodeFrame writes for the same result', () => {
    const results: unknown[] = [
      { access_token: 'to"ken\f\u2028é😀\ud800', token_type: 'Bearer', expires_at: null, resource: 'https://mcp.example.com/mcp', scopes: [] },
      {},
      [1, 'two'],
    ];
    for (const id of [1, Number.MAX_SAFE_INTEGER, 'id-"q"\f\u2028']) {
      for (const result of results) {
        const frame = encodeResultFrame(id, JSON.stringify(result));
        expect(frame).toBe(general(id, result));
        expect(frame.indexOf('\f')).toBe(frame.length - 1);
      }
    }
  });

  it('should refuse a frame over the cap as encodeFrame does, and accept one at it', () => {
    const envelope = Buffer.byteLength(general(1, '')) - 1;
    const atCap = '€'.repeat(Math.floor((MAX_FRAME_BYTES - envelope) / 3)) + 'x'.repeat((MAX_FRAME_BYTES - envelope) % 3);
    expect(Buffer.byteLength(encodeResultFrame(1, JSON.stringify(atCap)))).toBe(MAX_FRAME_BYTES + 1);
    expect(() => encodeResultFrame(1, JSON.stringify(`${atCap}x`))).toThrow(new FrameError('frame_too_large', `frame of ${MAX_FRAME_BYTES + 1} bytes exceeds ${MAX_FRAME_BYTES}`));
    expect(() => general(1, `${atCap}x`)).toThrow(`frame of ${MAX_FRAME_BYTES + 1} bytes exceeds ${MAX_FRAME_BYTES}`);
  });
});

describe('parseRequest', () => {
  const ok = (data: unknown) => {
    const parsed = parseRequest(data);
    if (!parsed.ok) throw new Error(parsed.error.message);
    return parsed.request;
  };
  const err = (data: unknown) => {
    const parsed = parseRequest(data);
    if (parsed.ok) throw new Error('expected a refusal');
    return parsed;
  };

  it('should accept the documented methods', () => {
    expect(ok({ v: 1, id: 7, method: 'token.get', params: { server_url: 'https://a/mcp', scopes: ['a'], min_ttl: 30 } }).method).toBe('token.get');
    expect(ok({ v: 1, id: 'x', method: 'status' }).params).toEqual({});
  });

  it('should name the problem and echo the id', () => {
    expect(err({ v: 1, id: 3, method: 'token.get', params: { min_ttl: '30', server_url: 'https://a' } })).toMatchObject({ id: 3, error: { code: 'invalid_request' } });
    expect(err({ v: 1, id: 3, method: 'token.get', params: {} }).error.message).toMatch(/exactly one of/);
    expect(err({ v: 1, id: 3, method: 'token.get', params: { resource: 'a', server_url: 'b' } }).error.message).toMatch(/exactly one of/);
    expect(err({ v: 1, id: 4, method: 'token.get', params: { server_url: 5 } }).error.message).toMatch(/server_url/);
  });

  it('login: "device" and "redirect_uri" (issue 16) are checked, and a required device login has no redirect', () => {
    const login = (params: Record<string, unknown>) => ({ v: 1, id: 9, method: 'login', params: { server_url: 'https://a/mcp', ...params } });
    expect(ok(login({ device: 'required' })).params).toMatchObject({ device: 'required' });
    expect(ok(login({ device: 'preferred', redirect_uri: 'http://127.0.0.1:8765/callback' })).method).toBe('login');
    expect(err(login({ device: true })).error.message).toBe('"device" must be "required" or "preferred"');
    expect(err(login({ redirect_uri: 8765 })).error.message).toMatch(/redirect_uri/);
    expect(err(login({ device: 'required', redirect_uri: 'http://127.0.0.1:8765/callback' })).error.message).toMatch(/not both/);
  });

  it('should refuse unknown methods, versions and parameters', () => {
    expect(err({ v: 1, id: 1, method: 'steal' }).error.code).toBe('unsupported_method');
    expect(err({ v: 1, id: 1, method: 'toString' }).error.code).toBe('unsupported_method');
    expect(err({ v: 2, id: 1, method: 'status' }).error.code).toBe('unsupported_version');
    expect(err({ v: 1, id: 1, method: 'status', params: { extra: 1 } }).error.message).toMatch(/unknown parameter "extra"/);
  });

  it('should refuse __proto__ keys without touching any prototype', () => {
    const hostile = JSON.parse('{"v":1,"id":1,"method":"token.get","params":{"server_url":"https://a","__proto__":{"polluted":true}}}') as unknown;
    expect(err(hostile).error.message).toMatch(/__proto__/);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('should refuse bad ids', () => {
    expect(err({ v: 1, id: 'x'.repeat(200), method: 'status' }).id).toBeNull();
    expect(err({ v: 1, id: 1.5, method: 'status' }).id).toBeNull();
    expect(err('hello').error.code).toBe('invalid_request');
  });
});
