/**
 * A string that must never be printed. Tokens, refresh tokens, client secrets
 * and registration access tokens live in a Secret from the moment they leave
 * the store or the authorization server; only reveal() gives the value, so
 * every place that lets a secret out is greppable.
 */
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== 'string' || value.length === 0) throw new TypeError('a secret must be a non-empty string');
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: Secret | null | undefined): boolean {
    return other instanceof Secret && other.#value === this.#value;
  }

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

export function secretOrNull(value: string | null | undefined): Secret | null {
  return value === null || value === undefined || value === '' ? null : new Secret(value);
}
