/** A deliberately dumb socket client for feeding the daemon bytes a real client never would. */
import { connect, type Socket } from 'node:net';
import { FrameReader } from '../../shared/protocol/framing.js';

export interface RawClient {
  socket: Socket;
  write(data: string): void;
  /** Resolves with the next frame, or rejects when the connection closes first. */
  nextFrame(): Promise<{ type: string; data: unknown }>;
  /** Resolves when the daemon closes the connection. */
  closed: Promise<void>;
  close(): void;
}

export function openRaw(path: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.setEncoding('utf8');
    const reader = new FrameReader();
    const frames: { type: string; data: unknown }[] = [];
    const waiters: { resolve: (f: { type: string; data: unknown }) => void; reject: (e: Error) => void }[] = [];
    let ended = false;
    const closed = new Promise<void>((res) => socket.once('close', () => res()));
    socket.on('data', (chunk: string) => {
      for (const frame of reader.push(chunk)) {
        const waiter = waiters.shift();
        if (waiter) waiter.resolve(frame);
        else frames.push(frame);
      }
    });
    socket.on('close', () => {
      ended = true;
      for (const w of waiters.splice(0)) w.reject(new Error('connection closed'));
    });
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        write: (data) => socket.write(data),
        nextFrame: () => {
          const frame = frames.shift();
          if (frame) return Promise.resolve(frame);
          if (ended) return Promise.reject(new Error('connection closed'));
          return new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
        },
        closed,
        close: () => socket.destroy(),
      }),
    );
  });
}
