/**
 * A handler may answer with an EncodedResult (daemon/encoded-result.ts); the
 * socket server must put exactly the bytes on the wire that node-ipc's own
 * encoding of the same answer would, keep the frame cap, and keep serving.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EncodedResult } from '../../daemon/server/encoded-result.js';
import { createLogger } from '../../daemon/os/logger.js';
import { SocketServer } from '../../daemon/server/socket-server.js';
import { type Request } from '../../shared/protocol/types.js';
import { encodeFrame, MAX_FRAME_BYTES } from '../../shared/protocol/framing.js';
import { makeTempHome, type TempHome } from '../helpers/temp-home.js';

const ANSWER = { access_token: 'to"ken\f\u2028ü', token_type: 'Bearer', expires_at: 1_800_000_000, resource: 'https://mcp.example.com/mcp', scopes: ['a', 'b'] };

describe('socket server: encoded results', () => {
  let home: TempHome;
  let server: SocketServer;
  let socketPath: string;
  const logged: string[] = [];

  beforeAll(async () => {
    home = makeTempHome();
    const socketDir = join(home.root, 'sock');
    mkdirSync(socketDir, { mode: 0o700 });
    socketPath = join(socketDir, 's');
    const stream = new PassThrough();
    stream.setEncoding('utf8').on('data', (line: string) => logged.push(line));
    server = new SocketServer({
      socketPath,
      socketDir,
      logger: createLogger({ level: 'info', stream }),
      handle: async (request: Request) => {
        // Which kind of answer the test wants travels as the server URL's host.
        const how = new URL((request.params as { server_url: string }).server_url).hostname.split('.')[0];
        if (how === 'encoded') return new EncodedResult(JSON.stringify(ANSWER));
        if (how === 'huge') return new EncodedResult(JSON.stringify({ pad: 'é'.repeat(MAX_FRAME_BYTES / 2) }));
        return ANSWER;
      },
    });
    await server.start();
  });

  afterAll(async () => {
    await server.close();
    home.remove();
  });

  /** Sends frames and collects the raw bytes of `count` answer frames. */
  function exchange(frames: string[], count: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect(socketPath);
      let raw = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        raw += chunk;
        const parts = raw.split('\f');
        if (parts.length > count) {
          socket.destroy();
          resolve(parts.slice(0, count).map((p) => `${p}\f`));
        }
      });
      socket.once('error', reject);
      socket.once('connect', () => socket.write(frames.join('')));
    });
  }

  const request = (id: string | number, how: string) => encodeFrame('request', { v: 1, id, method: 'token.get', params: { server_url: `https://${how}.example.com/mcp` } });

  it('should send the same bytes as node-ipc encoding the plain result', async () => {
    for (const id of [7, 'id-"quoted"\f\u2028']) {
      const [encoded, plain] = await exchange([request(id, 'encoded'), request(id, 'plain')], 2);
      expect(encoded).toBe(plain);
      expect(encoded).toBe(encodeFrame('response', { v: 1, id, ok: true, result: ANSWER }));
    }
  });

  it('should refuse to send an encoded result over the frame cap, say so, and keep serving', async () => {
    const [tooBig, next] = await exchange([request(1, 'huge'), request(2, 'encoded')], 2);
    expect(JSON.parse((tooBig as string).slice(0, -1))).toEqual({ type: 'response', data: { v: 1, id: 1, ok: false, error: { code: 'internal', message: 'reply too large to send' } } });
    expect(JSON.parse((next as string).slice(0, -1)).data.result).toEqual(ANSWER);
    expect(logged.join('')).toContain('could not encode a reply');
  });
});
