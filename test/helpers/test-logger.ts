/**
 * Loggers for in-process daemons and flows under test: one that keeps every
 * line for the test to read (and, when named, shows it to the secret ledger),
 * and one that drops everything below errors.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../daemon/os/logger.js';
import { outputStream } from './secret-ledger.js';

export type Logger = ReturnType<typeof createLogger>;

export interface CapturedLogs {
  logger: Logger;
  /** Everything logged so far. */
  text(): string;
}

/** A debug logger whose lines the test can read; `ledgerLabel` also hands them to the secret ledger under that name. */
export function captureLogs(ledgerLabel?: string): CapturedLogs {
  let text = '';
  const ledger = ledgerLabel === undefined ? undefined : outputStream(ledgerLabel);
  const logger = createLogger({
    level: 'debug',
    stream: new Writable({
      write(chunk: Buffer, _encoding, done) {
        const line = chunk.toString('utf8');
        text += line;
        ledger?.(line);
        done();
      },
    }),
  });
  return { logger, text: () => text };
}

/** Errors only, written nowhere: for set-up steps whose logs no test reads. */
export function quietLogger(): Logger {
  return createLogger({ level: 'error', stream: new Writable({ write: (_chunk, _encoding, done) => done() }) });
}
