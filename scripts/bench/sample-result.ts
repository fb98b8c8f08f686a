/** One real token.get answer: the echo servers' payload and a daemon's warm-up. */
import { Connection } from '../../client/connection.js';

/** The token.get answer for `url`, to give the echo server a payload of the same size. */
export async function sampleResult(socket: string, url: string): Promise<unknown> {
  const c = new Connection(socket);
  try {
    return await c.request('token.get', { server_url: url });
  } finally {
    c.close();
  }
}
