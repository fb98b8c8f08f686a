/**
 * Durations a person types: `90s`, `15m`, `1h`, `7d`, `2w` (one number, one
 * unit). `audit --since` and `policy allow --for` read them.
 */
import { UsageError } from './cli-core.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds in `text`; throws a UsageError naming `flag` and the accepted forms. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d{1,7})([smhdw])$/.exec(text.trim());
  if (match === null) throw new UsageError(`${flag} takes a duration like 90s, 15m, 1h, 7d or 2w, got ${JSON.stringify(text)}`);
  const seconds = Number(match[1]) * (UNITS[match[2] as string] as number);
  if (seconds <= 0) throw new UsageError(`${flag} must be longer than 0`);
  return seconds;
}
