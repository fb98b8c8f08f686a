/**
 * The daemon's logger: winston, JSON lines on stderr (what systemd and launchd
 * capture). A redaction format runs last, so no transport ever sees a secret:
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

export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined || value === '') return fallback;
  const lower = value.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(lower)) return lower as LogLevel;
  throw new RangeError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value.slice(0, 32))}`);
}

export function createLogger(options: { level: LogLevel; stream?: NodeJS.WritableStream; file?: winston.transport }): Logger {
  return winston.createLogger({
    level: options.level,
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    // The format runs before any transport, so the log file (daemon/log-file.ts) gets redacted lines too.
    format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
    transports: [
      options.stream === undefined
        ? new winston.transports.Stream({ stream: process.stderr })
        : new winston.transports.Stream({ stream: options.stream }),
      ...(options.file === undefined ? [] : [options.file]),
    ],
  });
}
