/**
 * Is anybody listening on a socket path? Used at start-up to tell a running
 * daemon (refuse to start) from a stale socket left by a crash (replace it).
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { AuthdError } from '../../shared/errors.js';
import { EVENT_REQUEST, EVENT_RESPONSE, PROTOCOL_VERSION } from '../../shared/protocol/types.js';
import { FrameReader, encodeFrame } from '../../shared/protocol/framing.js';

const PROBE_TIMEOUT_MS = 2000;

type Probe = { kind: 'none' } | { kind: 'stale' } | { kind: 'live'; pid: number | null };

function probe(path: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const reader = new FrameReader();
    const done = (result: Probe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ kind: 'live', pid: null }), PROBE_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encodeFrame(EVENT_REQUEST, { v: PROTOCOL_VERSION, id: 'probe', method: 'hello', params: { versions: [PROTOCOL_VERSION] } })));
    socket.on('data', (chunk: string) => {
      try {
        for (const frame of reader.push(chunk)) {
          const data = frame.data as { ok?: boolean; result?: { pid?: unknown } };
          if (frame.type === EVENT_RESPONSE) done({ kind: 'live', pid: typeof data.result?.pid === 'number' ? data.result.pid : null });
        }
      } catch {
        done({ kind: 'live', pid: null });
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ENOENT' ? { kind: 'none' } : err.code === 'ECONNREFUSED' ? { kind: 'stale' } : { kind: 'live', pid: null });
    });
  });
}

/** Refuses when a daemon answers on `path`; removes a socket nobody listens on. */
export async function claimSocketPath(path: string): Promise<'fresh' | 'replaced-stale'> {
  const result = await probe(path);
  if (result.kind === 'none') return 'fresh';
  if (result.kind === 'live') {
    throw new AuthdError('ALREADY_RUNNING', `a daemon${result.pid === null ? '' : ` (pid ${result.pid})`} is already listening on ${path}; stop it first or use another --socket`);
  }
  if (!lstatSync(path).isSocket()) throw new AuthdError('INSECURE_SOCKET', `${path} exists and is not a socket; remove it yourself if it is safe to`);
  unlinkSync(path);
  return 'replaced-stale';
}
