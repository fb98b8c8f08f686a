/**
 * Something on the socket that speaks the protocol but is not our daemon: it
 * answers each method from a table, so a test can play an older daemon
 * (version skew) or one with credentials in any state, without a database.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { EVENT_RESPONSE } from '../../shared/protocol/types.js';
import { FrameReader, encodeFrame, isPlainObject } from '../../shared/protocol/framing.js';

export type FakeAnswers = Record<string, (params: Record<string, unknown>) => unknown>;

export interface FakeDaemon {
  /** Methods asked for, in order. */
  readonly asked: string[];
  close(): Promise<void>;
}

export async function startFakeDaemon(socketPath: string, answers: FakeAnswers): Promise<FakeDaemon> {
  // The client refuses a socket directory that is not ours and 0700.
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  chmodSync(dirname(socketPath), 0o700);
  const asked: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('utf8');
    const reader = new FrameReader();
    socket.on('data', (chunk: string) => {
      for (const frame of reader.push(chunk)) {
        if (!isPlainObject(frame.data)) continue;
        const { id, method, params } = frame.data as { id: unknown; method: string; params?: Record<string, unknown> };
        asked.push(method);
        const answer = answers[method];
        const reply =
          answer === undefined
            ? { v: 1, id, ok: false, error: { code: 'unsupported_method', message: `unknown method "${method}"` } }
            : { v: 1, id, ok: true, result: answer(params ?? {}) };
        socket.write(encodeFrame(EVENT_RESPONSE, reply));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    asked,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
