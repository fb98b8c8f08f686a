/**
 * A method result that is already JSON. The socket server splices it into the
 * reply frame as it is, instead of serializing it again.
 *
 * Why: `token.get` is the hot path, and its answer is mostly one access token
 * of about a kilobyte. JSON.stringify scans every character of it for escapes
 * on every request; that scan was about a fifth of the daemon's CPU per
 * request (docs/benchmarks.md). The token's JSON form is computed once, when
 * the Secret holding it is made (daemon/secret.ts), and the answer around it
 * is a few small pieces.
 *
 * Only code that produced `json` with JSON.stringify may build one: the frame
 * is only as safe as this string (JSON.stringify escapes the form feed that
 * ends a frame).
 */
import { inspect } from 'node:util';
import { REDACTED } from './secret.js';

export class EncodedResult<T> {
  /** Never read; ties the JSON to the result type it encodes, so a handler cannot answer the wrong shape. */
  declare readonly __result?: T;

  constructor(readonly json: string) {}

  // The JSON holds an access token: like a Secret, it never prints itself.
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

