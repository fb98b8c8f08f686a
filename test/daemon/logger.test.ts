import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, defaultLogFormat, parseLogFormat, parseLogLevel, type LogFormat } from '../../daemon/os/logger.js';
import { Secret } from '../../daemon/store/secret.js';

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

describe('log formats', () => {
  function captureAs(format: LogFormat, file?: Writable) {
    let text = '';
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const logger = createLogger({ level: 'debug', stream, format, ...(file === undefined ? {} : { file: new winston.transports.Stream({ stream: file }) }) });
    return { logger, text: () => text };
  }

  it('text: one readable line per entry (time, level, message, key=value), redacted like JSON', () => {
    const { logger, text } = captureAs('text');
    logger.info('refreshed', { resource: 'https://a.example/mcp', expires_at: 1795000000, rotated: true, access_token: 'AT-secret-9', reason: 'HTTP 503 from server' });
    logger.warn('server said Bearer abcdefghijklmnop', { nested: { refresh_token: 'RT-secret-8' } });
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  refreshed resource=https:\/\/a\.example\/mcp expires_at=1795000000 rotated=true access_token=\[redacted\] reason="HTTP 503 from server"$/);
    expect(lines[1]).toMatch(/ warn  server said Bearer \[redacted\] nested=\{"refresh_token":"\[redacted\]"\}$/);
    expect(text()).not.toMatch(/secret-\d|abcdefghijklmnop/);
  });

  it('text on stderr still writes JSON lines to the log file', () => {
    let fileText = '';
    const file = new Writable({
      write(chunk: Buffer, _e, cb) {
        fileText += chunk.toString();
        cb();
      },
    });
    const { logger, text } = captureAs('text', file);
    logger.info('daemon started', { pid: 42 });
    expect(text()).toMatch(/ info  daemon started pid=42\n$/);
    expect(JSON.parse(fileText.trim())).toMatchObject({ level: 'info', message: 'daemon started', pid: 42 });
  });

  it('should default to text on a terminal and JSON otherwise, and accept only json or text', () => {
    expect(defaultLogFormat({ isTTY: true })).toBe('text');
    expect(defaultLogFormat({ isTTY: false })).toBe('json');
    expect(defaultLogFormat({})).toBe('json');
    expect(parseLogFormat('TEXT', 'json')).toBe('text');
    expect(parseLogFormat(undefined, 'text')).toBe('text');
    expect(() => parseLogFormat('yaml', 'json')).toThrow(/json or text/);
  });
});
