/**
 * A string that must never be printed. Tokens, refresh tokens, client secrets
 * and registration access tokens live in a Secret from the moment they leave
 * the store or the authorization server; only reveal() gives the value, so
 * every place that lets a secret out is greppable.
 */
import { inspect } from 'node:util';

/** What a secret, or anything holding one, prints instead of itself. */
export const REDACTED = '[redacted]';

/**
 * The one way a value holding a secret prints: as REDACTED, through String(),
 * template literals, JSON.stringify and util.inspect (console, winston).
 * Subclasses keep the secret in a #private field, never in an own property,
 * so spreading, Object.entries and structuredClone find nothing either.
 */
export abstract class Redacted {
  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

export class Secret extends Redacted {
  /**
   * The value as a JSON string literal, made once: the daemon's hot path
   * sends access tokens inside JSON frames (daemon/encoded-result.ts), and
   * escaping a kilobyte per request cost more than everything else it does.
   * Tokens almost never need escaping, so then only this string is kept and
   * reveal() slices the value out of it (V8 shares the characters): no second
   * copy of every token in memory.
   */
  readonly #json: string;
  /** Kept only when JSON escaping changed something, so the slice would be wrong. */
  readonly #escaped: string | undefined;

  constructor(value: string) {
    super();
    if (typeof value !== 'string' || value.length === 0) throw new TypeError('a secret must be a non-empty string');
    this.#json = JSON.stringify(value);
    this.#escaped = this.#json.length === value.length + 2 ? undefined : value;
  }

  reveal(): string {
    return this.#escaped ?? this.#json.slice(1, -1);
  }

  /** The value as a JSON string literal (quoted and escaped), for building a frame around it. */
  revealJson(): string {
    return this.#json;
  }

  equals(other: Secret | null | undefined): boolean {
    return other instanceof Secret && other.#json === this.#json;
  }
}

export function secretOrNull(value: string | null | undefined): Secret | null {
  return value === null || value === undefined || value === '' ? null : new Secret(value);
}
