/**
 * Reads an HTTP response body with a size cap, for every body mcpauthd reads
 * from a server it does not control: the daemon's metadata, registration and
 * token responses (daemon/http-fetch.ts) and doctor's metadata probe
 * (client/metadata-probe.ts). A hostile server cannot make either buffer more
 * than the cap: a declared Content-Length over it is refused before a byte is
 * read, and the count is kept while reading for bodies that declare nothing
 * or lie. The caller's fetch signal bounds the time. A body not wanted at all
 * is dropped with discardBody (the client adapters' retried 401/403 too).
 */

export type BoundedBody = { ok: true; body: Uint8Array } | { ok: false; reason: 'too_large' };

/** Drops a body unread, releasing the connection; one already consumed or closed is fine. */
export async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The body of `response`, or too_large when it is (or says it is) longer than `maxBytes`. */
export async function readBoundedBody(response: Response, maxBytes: number): Promise<BoundedBody> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await discardBody(response);
    return { ok: false, reason: 'too_large' };
  }
  if (response.body === null) return { ok: true, body: new Uint8Array(0) };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { ok: false, reason: 'too_large' };
    }
    chunks.push(value);
  }
  return { ok: true, body: Buffer.concat(chunks, total) };
}
