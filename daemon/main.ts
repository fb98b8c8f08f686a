/**
 * `mcpauthd daemon`: run in the foreground (never fork: systemd and launchd
 * supervise us), log to stderr (JSON lines, or text at a terminal), print one readiness line on stdout
 * once the socket accepts connections, exit 0 on SIGTERM/SIGINT after an
 * orderly shutdown, non-zero on a fatal start-up error so the supervisor's
 * restart policy applies.
 */
import { isAuthdError } from '../shared/errors.js';
import { resolvePaths } from '../shared/paths.js';
import { startDaemon } from './daemon.js';
import { openLogFileTransport } from './os/log-file.js';
import { createLogger, defaultLogFormat, parseLogFormat, parseLogLevel } from './os/logger.js';
import { importKoffi } from './server/peer-check.js';
import { coreDumpsOff, disableCoreDumps } from './os/process-hardening.js';
import type { AuditSettings } from './serve/audit.js';

export interface DaemonCommandOptions {
  home?: string | undefined;
  socket?: string | undefined;
  logLevel?: string | undefined;
  /** json or text on stderr; default text on a terminal, else json. */
  logFormat?: string | undefined;
  /** Also log to this file, rotated by size (for running without a supervisor). */
  logFile?: string | undefined;
  /** Start even where the peer check should exist but cannot be loaded (Linux, macOS). */
  allowNoPeerCheck?: boolean | undefined;
  /** Audit trail bounds (issue 18): days and rows kept, or none at all. */
  auditDays?: string | undefined;
  auditRows?: string | undefined;
  noAudit?: boolean | undefined;
}

/** `--audit-days`/`--audit-rows` as settings; throws a message naming the flag. */
export function auditSettings(options: DaemonCommandOptions): Partial<AuditSettings> {
  const whole = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new Error(`${flag} takes a whole number of at least 1, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  const days = whole(options.auditDays, '--audit-days');
  const rows = whole(options.auditRows, '--audit-rows');
  return {
    ...(options.noAudit === true ? { enabled: false } : {}),
    ...(days === undefined ? {} : { maxAgeMs: days * 86_400_000 }),
    ...(rows === undefined ? {} : { maxRows: rows }),
  };
}

export async function runDaemonCommand(options: DaemonCommandOptions): Promise<number> {
  // First, before the database (and with it any token) is read: no core dumps.
  const coreDumps = await disableCoreDumps({ loadKoffi: importKoffi });
  let level;
  let format;
  let audit;
  try {
    audit = auditSettings(options);
    level = parseLogLevel(options.logLevel ?? process.env['MCPAUTHD_LOG_LEVEL']);
    format = parseLogFormat(options.logFormat ?? process.env['MCPAUTHD_LOG_FORMAT'], defaultLogFormat(process.stderr));
  } catch (err) {
    process.stderr.write(`mcpauthd: ${(err as Error).message}\n`);
    return 2;
  }
  let file;
  try {
    file = options.logFile === undefined ? undefined : openLogFileTransport(options.logFile);
  } catch (err) {
    process.stderr.write(`mcpauthd: cannot log to ${options.logFile}: ${(err as Error).message}\n`);
    return 1;
  }
  const logger = createLogger({ level, format, ...(file === undefined ? {} : { file }) });
  const paths = resolvePaths({ home: options.home, socket: options.socket });
  if (!coreDumpsOff(coreDumps)) {
    logger.warn('core dumps are not off: a crash could write the tokens in memory to a core file', { reason: coreDumps.reason ?? 'unknown', fix: 'run the daemon with LimitCORE=0 (mcpauthd install-service) or ulimit -c 0' });
  }
  let handle;
  try {
    handle = await startDaemon({ paths, logger, coreDumps, audit, allowNoPeerCheck: options.allowNoPeerCheck === true });
  } catch (err) {
    const message = isAuthdError(err) ? err.message : `unexpected start-up failure: ${(err as Error).message}`;
    logger.error('daemon failed to start', { code: isAuthdError(err) ? err.code : 'internal', reason: message });
    process.stderr.write(`mcpauthd: ${message}\n`);
    await new Promise<void>((resolve) => logger.on('finish', resolve).end());
    return 1;
  }

  const running = handle;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info('stopping', { signal });
      running.close().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: err });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.stdout.write(`mcpauthd ready pid=${running.info.pid} socket=${running.info.socket}\n`);
  });
}
