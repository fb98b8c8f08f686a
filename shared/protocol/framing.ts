/**
 * How mcpauthd frames travel over the Unix socket: the size caps, the encoders
 * and the reader that cuts a byte stream into frames. Pure: no I/O.
 *
 * Framing is node-ipc's: each frame is the UTF-8 JSON object
 * `{"type": <event>, "data": <payload>}` followed by one form feed (0x0C).
 * JSON.stringify escapes U+000C inside strings, so a writer that only uses
 * encodeFrame() cannot produce a broken or injected frame.
 */

import { EVENT_REQUEST, EVENT_RESPONSE, PROTOCOL_VERSION, type MethodName, type Methods, type RequestId } from './types.js';

/** Largest frame either side accepts, delimiter excluded. Tokens are small; this bounds memory per connection. */
export const MAX_FRAME_BYTES = 64 * 1024;
export const FRAME_DELIMITER = '\f';

/** Bytes of credential summaries the daemon puts in one status page, well under MAX_FRAME_BYTES. */
export const STATUS_PAGE_BYTES = 40 * 1024;

export class FrameError extends Error {
  readonly code: 'frame_too_large' | 'invalid_json' | 'invalid_envelope';
  constructor(code: FrameError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** A frame's JSON, checked against the cap and ended with the delimiter: the last step of every encoder here. */
function sealFrame(frame: string): string {
  if (exceedsFrameCap(frame)) {
    throw new FrameError('frame_too_large', `frame of ${Buffer.byteLength(frame)} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  return frame + FRAME_DELIMITER;
}

export function encodeFrame(type: string, data: unknown): string {
  const frame = JSON.stringify({ type, data });
  return sealFrame(frame);
}

/** What encodeFrame(EVENT_REQUEST, …) writes before the request's id. */
const REQUEST_FRAME_HEAD = `{"type":${JSON.stringify(EVENT_REQUEST)},"data":{"v":${PROTOCOL_VERSION},"id":`;

/**
 * encodeFrame(EVENT_REQUEST, { v: PROTOCOL_VERSION, id, method, params }),
 * byte for byte (test/shared/protocol.test.ts compares them), for the client's
 * hot path: serializing the envelope around the params cost about as much as
 * the params themselves. Only JSON.stringify output goes into it, so a form
 * feed in a value is escaped as in encodeFrame, and the same cap applies.
 */
export function encodeRequestFrame<M extends MethodName>(id: number, method: M, params: Methods[M]['params']): string {
  // JSON.stringify gives undefined for what it would leave out of an object (a
  // toJSON that returns nothing): that, and anything else the client never
  // sends (an id that is not a counter's), takes the general path.
  const paramsJson: string | undefined = typeof params === 'object' && params !== null ? JSON.stringify(params) : undefined;
  if (paramsJson === undefined || !Number.isSafeInteger(id)) {
    return encodeFrame(EVENT_REQUEST, { v: PROTOCOL_VERSION, id, method, params });
  }
  const frame = `${REQUEST_FRAME_HEAD}${id},"method":${JSON.stringify(method)},"params":${paramsJson}}}`;
  return sealFrame(frame);
}

/** What a successful response frame holds before its id. */
const RESPONSE_FRAME_HEAD = `{"type":${JSON.stringify(EVENT_RESPONSE)},"data":{"v":${PROTOCOL_VERSION},"id":`;

/**
 * encodeFrame(EVENT_RESPONSE, { v: PROTOCOL_VERSION, id, ok: true, result }),
 * byte for byte, for a result that is already JSON (daemon/encoded-result.ts):
 * the daemon's hot path splices the token answer in instead of serializing it
 * again. `resultJson` must come from JSON.stringify (or be assembled from its
 * output), which escapes the form feed that ends a frame.
 */
export function encodeResultFrame(id: RequestId, resultJson: string): string {
  const frame = `${RESPONSE_FRAME_HEAD}${JSON.stringify(id)},"ok":true,"result":${resultJson}}}`;
  return sealFrame(frame);
}

/**
 * Splits a byte stream into frames. A partial frame longer than the cap is an
 * error at once: a peer cannot make us buffer more than MAX_FRAME_BYTES.
 */
export class FrameReader {
  #buffer = '';

  push(chunk: string): { type: string; data: unknown }[] {
    // Frames are cut out of `text` by index: the unconsumed tail is sliced once
    // per push, not once per frame, and the common case (a chunk that is exactly
    // one whole frame) keeps nothing at all.
    const text = this.#buffer === '' ? chunk : this.#buffer + chunk;
    const frames: { type: string; data: unknown }[] = [];
    let start = 0;
    try {
      let end = text.indexOf(FRAME_DELIMITER);
      while (end !== -1) {
        const raw = text.slice(start, end);
        start = end + 1;
        frames.push(decodeFrame(raw));
        end = text.indexOf(FRAME_DELIMITER, start);
      }
    } finally {
      // Also on a bad frame: what follows it stays buffered, as it always has.
      this.#buffer = start === 0 ? text : text.slice(start);
    }
    if (exceedsFrameCap(this.#buffer)) {
      throw new FrameError('frame_too_large', `partial frame exceeds ${MAX_FRAME_BYTES} bytes`);
    }
    return frames;
  }

  get pendingBytes(): number {
    return Buffer.byteLength(this.#buffer);
  }
}

function decodeFrame(raw: string): { type: string; data: unknown } {
  if (exceedsFrameCap(raw)) throw new FrameError('frame_too_large', `frame exceeds ${MAX_FRAME_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new FrameError('invalid_json', 'frame is not valid JSON');
  }
  if (!isPlainObject(parsed) || typeof parsed['type'] !== 'string') {
    throw new FrameError('invalid_envelope', 'frame must be an object with a string "type"');
  }
  return { type: parsed['type'], data: parsed['data'] };
}

/**
 * Is the UTF-8 form of `text` longer than MAX_FRAME_BYTES? Exactly
 * `Buffer.byteLength(text) > MAX_FRAME_BYTES`, but it only counts bytes when
 * the answer is in doubt: each UTF-16 unit takes at least 1 and at most 3 bytes
 * (a surrogate pair, 2 units, takes 4; a lone surrogate 3, as U+FFFD), so a
 * string of at most MAX_FRAME_BYTES / 3 units is under the cap and one of more
 * than MAX_FRAME_BYTES units is over it. Tokens are far below the lower bound.
 */
export function exceedsFrameCap(text: string): boolean {
  if (text.length * 3 <= MAX_FRAME_BYTES) return false;
  if (text.length > MAX_FRAME_BYTES) return true;
  return Buffer.byteLength(text) > MAX_FRAME_BYTES;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
