/**
 * The `log.level` method: changes the running daemon's log level (every
 * transport follows the logger's level), so debugging a live problem needs
 * no restart, which would lose logins in progress.
 */
import type { LogLevelParams, LogLevelResult } from '../../shared/protocol/types.js';
import type { Logger, LogLevel } from '../os/logger.js';

export function createLogLevelHandler(logger: Logger): (params: LogLevelParams) => Promise<LogLevelResult> {
  return async (params) => {
    const previous = logger.level as LogLevel;
    // Said before the change, at info, so the log shows where more (or less) detail starts unless it was already quieter than info.
    logger.info('log level changed', { from: previous, to: params.level });
    logger.level = params.level;
    return { level: params.level, previous };
  };
}
