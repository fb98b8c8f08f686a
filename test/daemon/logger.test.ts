import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger, parseLogLevel } from '../../daemon/logger.js';
import { Secret } from '../../daemon/secret.js';

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', stream }), text: () => text };
}

describe('logger redaction', () => {
  it('should write JSON lines and drop secrets under any secret-looking key, at any depth', () => {
    const { logger, text } = capture();
    logger.info('token response', {
      access_token: 'AT-secret-1', refresh_token: 'RT-secret-2', nested: { client_secret: 'CS-secret-3', code_verifier: 'V-secret-4', registration_access_token: 'RAT-secret-5' },
      code: 'authcodeABC123def456ghi789', error_code: 'not_found', resource: 'https://a.example/mcp',
    });
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(text()).not.toMatch(/secret-\d|authcodeABC123/);
    expect(line).toMatchObject({ level: 'info', message: 'token response', resource: 'https://a.example/mcp', error_code: 'not_found' });
  });

  it('should mask JWTs, bearer headers and secret query parameters inside free text', () => {
    const { logger, text } = capture();
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';
    logger.warn(`server said Bearer abcdefghijklmnop and ${jwt}`, { url: 'http://127.0.0.1/callback?code=xyz123456&state=s' });
    expect(text()).not.toContain(jwt);
    expect(text()).not.toContain('abcdefghijklmnop');
    expect(text()).not.toContain('xyz123456');
    expect(text()).toContain('state=s');
  });

  it('should print Secret objects and errors without their values', () => {
    const { logger, text } = capture();
    logger.error('failed', { token: new Secret('S3CR3T-value'), error: new Error('refresh with eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.abcdefgh failed') });
    expect(text()).not.toContain('S3CR3T-value');
    expect(text()).not.toContain('eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.abcdefgh');
  });

  it('should accept only known levels', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel(undefined)).toBe('info');
    expect(() => parseLogLevel('loud')).toThrow(/error, warn, info, debug/);
  });
});
