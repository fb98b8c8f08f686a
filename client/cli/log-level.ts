/**
 * `mcpauthd log-level <level>`: asks the running daemon to log more or less,
 * without a restart (a restart would drop logins in progress).
 */
import { AuthdError } from '../../shared/errors.js';
import { LOG_LEVEL_NAMES, type LogLevelParams, type LogLevelResult } from '../../shared/protocol/types.js';
import { Connection, DEFAULT_REQUEST_TIMEOUT_MS } from '../connection.js';

export function parseLevel(value: string): LogLevelParams['level'] {
  const lower = value.toLowerCase();
  const level = LOG_LEVEL_NAMES.find((l) => l === lower);
  if (level === undefined) throw new AuthdError('USAGE', `the log level must be one of ${LOG_LEVEL_NAMES.join(', ')}, got ${JSON.stringify(value.slice(0, 32))}`);
  return level;
}

export async function setDaemonLogLevel(socket: string | readonly string[], level: LogLevelParams['level']): Promise<LogLevelResult> {
  const connection = new Connection(socket);
  try {
    return await connection.request('log.level', { level }, { timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS });
  } finally {
    connection.close();
  }
}
