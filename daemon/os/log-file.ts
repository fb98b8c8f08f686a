/**
 * `mcpauthd daemon --log-file PATH`: JSON lines also go to a file, rotated by
 * size, for people who run the daemon without a supervisor to keep its
 * stderr. The file gets what stderr gets (already redacted by the logger's
 * format), is created 0600, and its directory must be owner-only like every
 * other mcpauthd directory: log lines name resources and servers.
 */
import { dirname, resolve } from 'node:path';
import winston from 'winston';
import { assertPrivateFileIfExists, ensurePrivateDirectory } from './private-path.js';

/** Rotate when the file reaches this size. */
export const LOG_FILE_MAX_BYTES = 10 * 1024 * 1024;
/** Files kept in all: PATH plus rotated copies (tailable: PATH is always the newest). */
export const LOG_FILE_MAX_FILES = 5;

export interface LogFileOptions {
  maxBytes?: number;
  maxFiles?: number;
}

/**
 * Checks (or creates, 0700) the directory and checks an existing file, then
 * opens the transport. Throws AuthdError INSECURE_PERMISSIONS with the fix.
 */
export function openLogFileTransport(path: string, options: LogFileOptions = {}): winston.transport {
  const file = resolve(path);
  ensurePrivateDirectory(dirname(file));
  assertPrivateFileIfExists(file);
  return new winston.transports.File({
    filename: file,
    maxsize: options.maxBytes ?? LOG_FILE_MAX_BYTES,
    maxFiles: options.maxFiles ?? LOG_FILE_MAX_FILES,
    tailable: true,
    // The mode is explicit so it does not depend on the umask at open time;
    // rotation opens every new file with these options too.
    options: { flags: 'a', mode: 0o600 },
  });
}
