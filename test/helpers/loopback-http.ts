/**
 * What the HTTP test fixtures (test/fixtures/auth-server.ts, mcp-server.ts)
 * share: listening on an ephemeral 127.0.0.1 port, and reading a request body
 * with a cap, so a runaway client fails its request instead of filling memory.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The most a fixture reads of one request body. */
export const MAX_FIXTURE_BODY_BYTES = 1024 * 1024;

/** Listens on 127.0.0.1 at a port the kernel picks; resolves with that port. */
export function listenOnLoopback(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** The whole request body; rejects once it passes `maxBytes`. */
export async function readRequestBody(req: http.IncomingMessage, maxBytes = MAX_FIXTURE_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new Error(`request body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
