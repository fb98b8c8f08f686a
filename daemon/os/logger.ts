/**
 * The daemon's logger: winston, on stderr (what systemd and launchd capture)
 * as JSON lines, or as text lines for a person at a terminal (`--log-format`);
 * the log file is always JSON. Times: each line's `timestamp` is ISO 8601 UTC;
 * times inside fields (`expires_at`, `next_attempt_at`) are Unix seconds, as
 * in status --json. A redaction format runs before any transport, so no
 * transport ever sees a secret:
 * - values under secret-looking keys are replaced, at any depth;
 * - Secret instances print as [redacted] by themselves;
 * - JWTs and "Bearer ..." inside free text are masked, for the message a
 *   library built from a server response.
 */
import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

const SECRET_KEY = /(^|_|-)(access_?token|refresh_?token|id_?token|token|secret|client_?secret|password|authorization_?code|code_?verifier|verifier|authorization|cookie|registration_?access_?token|assertion)$/i;
// A bare `code` is usually an error code (ENOENT, not_found) worth logging; an
// OAuth authorization code is long, random and has digits.
const AUTHORIZATION_CODE_LIKE = /^(?=.*\d)[A-Za-z0-9._~-]{20,}$/;

function isSecretField(key: string, value: unknown): boolean {
  if (value === null || value === undefined || typeof value === 'boolean') return false;
  if (key.toLowerCase() === 'code') return typeof value === 'string' && AUTHORIZATION_CODE_LIKE.test(value);
  return SECRET_KEY.test(key);
}
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const QUERY_SECRET = /([?&](?:code|code_verifier|access_token|refresh_token|client_secret|token)=)[^&\s"]+/gi;

export function redactText(text: string): string {
  return text.replace(JWT, '[redacted-jwt]').replace(BEARER, '$1 [redacted]').replace(QUERY_SECRET, '$1[redacted]');
}

export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6) return '[truncated]';
  if (value instanceof Error) {
    return { name: value.name, message: redactText(value.message), ...('code' in value ? { code: redactValue((value as { code: unknown }).code) } : {}) };
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function' && !Array.isArray(value)) {
    return redactValue((value as { toJSON: () => unknown }).toJSON(), depth + 1);
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = isSecretField(key, v) ? '[redacted]' : redactValue(v, depth + 1);
  }
  return out;
}

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'timestamp') continue;
    const value = info[key];
    info[key] = isSecretField(key, value) ? '[redacted]' : redactValue(value);
  }
  return info;
});

export type Logger = winston.Logger;

export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

/** Text for a person at a terminal; JSON for a supervisor, a pipe or a file. */
export function defaultLogFormat(stderr: { isTTY?: boolean }): LogFormat {
  return stderr.isTTY === true ? 'text' : 'json';
}

export function parseLogFormat(value: string | undefined, fallback: LogFormat): LogFormat {
  if (value === undefined || value === '') return fallback;
  const lower = value.toLowerCase();
  if ((LOG_FORMATS as readonly string[]).includes(lower)) return lower as LogFormat;
  throw new RangeError(`log format must be json or text, got ${JSON.stringify(value.slice(0, 32))}`);
}

/** A field value for a text line: bare when it is one plain word, else JSON (quoted, escaped: one line always). */
function textValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=\\\p{C}]+$/u.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  return JSON.stringify(value) ?? String(value);
}

/** `2026-12-03T09:45:23.123Z info  refreshed resource=https://… expires_at=1795000000` */
const textLine = winston.format.printf((info) => {
  const fields = Object.keys(info)
    .filter((key) => key !== 'level' && key !== 'message' && key !== 'timestamp')
    .map((key) => `${key}=${textValue(info[key])}`);
  const message = String(info.message).replace(/[\r\n]+/g, ' ');
  return [`${String(info['timestamp'])} ${info.level.padEnd(5)} ${message}`, ...fields].join(' ');
});

export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined || value === '') return fallback;
  const lower = value.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(lower)) return lower as LogLevel;
  throw new RangeError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value.slice(0, 32))}`);
}

/**
 * @param options.format how stderr (or `stream`) gets lines; default json. The file is always JSON.
 */
export function createLogger(options: { level: LogLevel; format?: LogFormat; stream?: NodeJS.WritableStream; file?: winston.transport }): Logger {
  if (options.file !== undefined) options.file.format = winston.format.json();
  return winston.createLogger({
    level: options.level,
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    // Redaction runs here, before any transport, so every line of every format is redacted.
    format: winston.format.combine(winston.format.timestamp(), redact()),
    transports: [
      new winston.transports.Stream({
        stream: options.stream ?? process.stderr,
        format: options.format === 'text' ? textLine : winston.format.json(),
      }),
      ...(options.file === undefined ? [] : [options.file]),
    ],
  });
}
