import { describe, expect, it } from '@jest/globals';
import { FrameReader, MAX_FRAME_BYTES, encodeFrame, parseRequest } from '../../shared/protocol.js';

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
