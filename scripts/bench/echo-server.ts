/**
 * The transport floor: a bare node-ipc 14 server configured exactly like the
 * daemon's socket server (daemon/socket-server.ts: `assured` profile, the
 * same allowed events, frame cap, pending-bytes cap, frame timeout, socket
 * directly inside an owner-only directory), which answers every request with
 * a fixed result of the same size as a real `token.get` answer. No parsing of
 * the request beyond node-ipc's own, no store, no dispatch.
 *
 * With a count N it holds N distinct answers, like a daemon holding N
 * credentials (the access token and resource of fake credential i), and
 * answers the one the request's server_url names: the floor for serving N
 * different tokens at random, which costs more than serving one (CPU caches).
 *
 *   node dist/scripts/bench/echo-server.js <socket-path> <result.json> [N]
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Socket } from 'node:net';
import { IPCModule } from 'node-ipc';
import { ALLOWED_EVENTS, EVENT_REQUEST, EVENT_RESPONSE, PROTOCOL_VERSION } from '../../shared/protocol/types.js';
import { MAX_FRAME_BYTES } from '../../shared/protocol/framing.js';
import { fakeAccessToken, fakeServerUrl } from './common.js';

const [socketPath, resultFile, countArg] = process.argv.slice(2);
if (socketPath === undefined || resultFile === undefined) {
  process.stderr.write('usage: echo-server.js <socket-path> <result.json>\n');
  process.exit(2);
}
const result = JSON.parse(readFileSync(resultFile, 'utf8')) as Record<string, unknown>;
const count = countArg === undefined ? 1 : Number.parseInt(countArg, 10);
const results: Record<string, unknown>[] =
  count <= 1 ? [result] : Array.from({ length: count }, (_, i) => ({ ...result, access_token: fakeAccessToken(i), resource: fakeServerUrl(i) }));

process.umask(0o077);
const ipc = new IPCModule();
const config = ipc.config;
config.parser = 'assured';
config.allowedEvents = ALLOWED_EVENTS;
config.socketRoot = `${dirname(socketPath)}/`;
config.secureSocketRoot = true;
config.maxConnections = 256;
config.maxMessageSize = MAX_FRAME_BYTES;
config.maxPendingBytes = 4 * 1024 * 1024;
config.messageTimeout = 5_000;
config.unlink = true;
config.silent = true;
config.logPayloads = false;
config.readableAll = false;
config.writableAll = false;

ipc.serve(socketPath, () => process.stdout.write('echo ready\n'));
const server = ipc.server;
if (server === false) throw new Error('node-ipc did not create a server');
server.on(EVENT_REQUEST, (data: unknown, socket: Socket) => {
  const request = data as { id?: unknown; params?: { server_url?: unknown } } | null;
  const id = request?.id ?? null;
  let answer = results[0];
  if (count > 1) {
    const url = request?.params?.server_url;
    const i = typeof url === 'string' ? Number(url.slice(url.lastIndexOf('/') + 1)) : 0;
    answer = results[Number.isInteger(i) && i >= 0 && i < count ? i : 0];
  }
  server.emit(socket, EVENT_RESPONSE, { v: PROTOCOL_VERSION, id, ok: true, result: answer });
});
server.on('error', () => {
  // node-ipc has closed that connection; nothing else to do.
});
server.start();

process.on('SIGTERM', () => {
  server.stop();
  process.exit(0);
});
