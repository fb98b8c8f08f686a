/** The `log.level` method: its parameters are checked like every other, and the handler moves the logger's level. */
import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogLevelHandler } from '../../daemon/server/log-level-handler.js';
import { createLogger } from '../../daemon/os/logger.js';
import { parseRequest } from '../../shared/protocol/validate.js';

describe('log.level', () => {
  it('parseRequest(): should accept the four levels and refuse anything else', () => {
    expect(parseRequest({ v: 1, id: 1, method: 'log.level', params: { level: 'debug' } })).toMatchObject({ ok: true });
    expect(parseRequest({ v: 1, id: 2, method: 'log.level', params: { level: 'loud' } })).toMatchObject({ ok: false, error: { code: 'invalid_request', message: '"level" must be one of error, warn, info, debug' } });
    expect(parseRequest({ v: 1, id: 3, method: 'log.level', params: { level: 'info', persist: true } })).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(parseRequest({ v: 1, id: 4, method: 'log.level', params: {} })).toMatchObject({ ok: false });
  });

  it('createLogLevelHandler(): should change the level at once and say so in the log', async () => {
    let text = '';
    const stream = new Writable({ write: (chunk: Buffer, _e, cb) => ((text += chunk.toString()), cb()) });
    const logger = createLogger({ level: 'info', stream });
    const handle = createLogLevelHandler(logger);
    logger.debug('hidden');
    expect(await handle({ level: 'debug' })).toEqual({ level: 'debug', previous: 'info' });
    logger.debug('shown');
    expect(text).not.toContain('hidden');
    expect(text).toContain('"message":"shown"');
    expect(text).toContain('"from":"info"');
    expect(await handle({ level: 'error' })).toEqual({ level: 'error', previous: 'debug' });
    logger.warn('quiet now');
    expect(text).not.toContain('quiet now');
  });
});
