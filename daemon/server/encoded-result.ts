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
import { Redacted } from '../store/secret.js';

// The JSON holds an access token: like a Secret, it never prints itself, and
// it lives in a #private field so no own property carries it out (a spread,
// structuredClone, a logger walking the object).
export class EncodedResult<T> extends Redacted {
  /** Never read; ties the JSON to the result type it encodes, so a handler cannot answer the wrong shape. */
  declare readonly __result?: T;

  readonly #json: string;

  constructor(json: string) {
    super();
    this.#json = json;
  }

  /** The result as JSON, to splice into a reply frame as it is. */
  get json(): string {
    return this.#json;
  }
}
