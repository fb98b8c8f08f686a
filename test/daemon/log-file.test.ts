/** openLogFileTransport(): size-based rotation, every file 0600, an existing open file refused. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { openLogFileTransport } from '../../daemon/os/log-file.js';
import { createLogger } from '../../daemon/os/logger.js';
import { until } from '../helpers/until.js';

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

describe('openLogFileTransport()', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mcpauthd-logfile-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('should rotate by size, keep at most maxFiles, and create every file 0600', async () => {
    const path = join(root, 'logs', 'daemon.log');
    const file = openLogFileTransport(path, { maxBytes: 2000, maxFiles: 3 });
    // winston checks the size of what it wrote; lines logged while the file is still opening all land in it.
    await once(file, 'open');
    const logger = createLogger({ level: 'info', stream: sink(), file });
    // One line at a time: the transport has counted it ('logged', where it decides to rotate)
    // and it is on disk (so a rotation has finished and the next file is open) before the next.
    const logs = join(root, 'logs');
    const onDisk = (i: number) => readdirSync(logs).some((f) => new RegExp(`"i":${i}[,}]`).test(readFileSync(join(logs, f), 'utf8')));
    for (let i = 0; i < 60; i++) {
      const logged = once(file, 'logged');
      logger.info('a line long enough to fill the file quickly', { i, padding: 'x'.repeat(100) });
      await logged;
      await until(() => onDisk(i), `log line ${i} on disk`);
    }
    // The transport finishes only after its file stream has flushed to disk.
    const flushed = once(file, 'finish');
    logger.end();
    await flushed;
    const files = readdirSync(join(root, 'logs')).sort();
    expect(files).toEqual(['daemon.log', 'daemon1.log', 'daemon2.log']);
    for (const f of files) {
      const st = statSync(join(root, 'logs', f));
      expect(st.mode & 0o777).toBe(0o600);
      expect(st.size).toBeLessThanOrEqual(2200);
    }
    expect(statSync(join(root, 'logs')).mode & 0o777).toBe(0o700);
  });

  it('should refuse an existing log file that others can read, naming the fix', () => {
    const path = join(root, 'd.log');
    chmodSync(root, 0o700);
    writeFileSync(path, '', { mode: 0o644 });
    chmodSync(path, 0o644);
    expect(() => openLogFileTransport(path)).toThrow(`chmod 600 ${JSON.stringify(path)}`);
  });
});
