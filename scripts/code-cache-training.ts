/**
 * Writes dist/cjs/hot-commands.v8cache, the V8 code cache the bin compiles
 * the per-request commands with (client/cli/bin.cts), by running them once.
 *
 * A cache made right after compiling holds little more than the top level:
 * V8 compiles a function when it first runs. So this runs `token` and
 * `status` the ways scripts do (plain, --json, --header, the table, a
 * credential that is not there, --help) against a stand-in daemon on a
 * private socket, then asks V8 for the cache: it then holds every function
 * those runs compiled. Run by scripts/build-cjs.mjs in a fresh process with
 * no NODE_OPTIONS (V8 refuses a cache made under other flags).
 *
 * The stand-in answers with fixed results typed by the protocol, so a change
 * of shape there fails to compile here rather than training a dead path.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, encodeResultFrame, FrameReader, isPlainObject } from '../shared/protocol/framing.js';
import { EVENT_RESPONSE, PROTOCOL_VERSION, type StatusResult } from '../shared/protocol/types.js';
import type { TokenGetResult } from '../shared/protocol/credential-types.js';

const require = createRequire(import.meta.url);
const bin = require('../client/cli/bin.cjs') as typeof import('../client/cli/bin.cjs');

const SERVER = 'https://mcp.training.invalid/mcp';
const NOW = 1_800_000_000;

const TOKEN: TokenGetResult = { access_token: 'training.not-a-token', token_type: 'Bearer', expires_at: NOW + 3600, resource: SERVER, scopes: ['mcp:tools'] };

function statusResult(socket: string, home: string): StatusResult {
  return {
    daemon: {
      pid: process.pid,
      version: '0.0.0',
      protocol: PROTOCOL_VERSION,
      socket,
      home,
      started_at: NOW,
      peer_check: 'peercred',
      core_dumps: { core_limit_zero: true, dumpable: false, reason: null },
      callback_peer_check: 'proc_net_tcp',
      encryption: { provider: 'key_file', location: join(home, 'database.key') },
    },
    credentials: [
      { resource: SERVER, server_urls: [SERVER], issuer: 'https://as.training.invalid', client_id: 'c1', scopes: ['mcp:tools'], state: 'valid', expires_at: NOW + 3600, refresh_at: NOW + 3000, has_refresh_token: true, last_refresh_at: NOW - 60, next_attempt_at: null, last_error: null, created_at: NOW - 86_400, updated_at: NOW - 60, programs_last_day: ['/usr/bin/node /opt/agent.js'] },
      { resource: `${SERVER}/2`, server_urls: [`${SERVER}/2`], issuer: 'https://as.training.invalid', client_id: 'c2', scopes: [], state: 'needs_login', expires_at: NOW - 60, refresh_at: null, has_refresh_token: false, last_refresh_at: null, next_attempt_at: null, last_error: 'invalid_grant', created_at: NOW - 86_400, updated_at: NOW - 60 },
    ],
    total: 2,
    next_cursor: null,
    next_offset: null,
    idp_sessions: [{ issuer: 'https://idp.training.invalid', client_id: 'idp', subject: 'someone', id_token_expires_at: NOW + 600, has_refresh_token: true, credentials: [SERVER] }],
  };
}

function answer(conn: Socket, data: Record<string, unknown>, status: StatusResult): void {
  const id = typeof data['id'] === 'number' ? data['id'] : 0;
  const params = isPlainObject(data['params']) ? data['params'] : {};
  if (data['method'] === 'token.get' && (params['server_url'] === SERVER || params['resource'] === SERVER)) conn.write(encodeResultFrame(id, JSON.stringify(TOKEN)));
  else if (data['method'] === 'status') conn.write(encodeResultFrame(id, JSON.stringify(status)));
  else conn.write(encodeFrame(EVENT_RESPONSE, { v: PROTOCOL_VERSION, id, ok: false, error: { code: 'not_found', message: 'no credential for that (training)' } }));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpauthd-cache-'));
  const socket = join(dir, 'd.sock');
  const status = statusResult(socket, dir);
  // The hot commands leave their connection for process exit to close (cli-core.ts withClient): this end closes them.
  const connections = new Set<Socket>();
  const server = createServer((conn) => {
    connections.add(conn);
    const reader = new FrameReader();
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      for (const frame of reader.push(chunk)) if (isPlainObject(frame.data)) answer(conn, frame.data, status);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  // What the commands print goes nowhere: only the code they ran matters.
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  try {
    const loaded = bin.loadHotCommands({ useCodeCache: false });
    if (loaded === undefined) throw new Error(`${bin.BUNDLE_FILE} is missing: scripts/build-cjs.mjs writes it first`);
    const { core } = loaded;
    const runs: [string, string[]][] = [
      ['token', [SERVER]],
      ['token', [SERVER, '--json']],
      ['token', [SERVER, '--header']],
      ['token', ['--resource', SERVER, '--scope', 'mcp:tools']],
      ['token', [`${SERVER}/`]],
      ['token', ['--help']],
      ['status', ['--json']],
      ['status', []],
    ];
    process.stdout.write = () => true;
    process.stderr.write = () => true;
    const codes: number[] = [];
    for (const [name, args] of runs) {
      const cmd = core.HOT_COMMANDS[name];
      if (cmd === undefined) throw new Error(`no hot command ${name}`);
      codes.push(await core.runCommand(name, cmd, [...args, '--socket', socket]));
    }
    process.stdout.write = write;
    process.stderr.write = writeErr;
    // 4: the credential that is not there, and both statuses (one credential needs a login).
    if (codes.join(',') !== '0,0,0,0,4,0,4,4') throw new Error(`the training runs exited ${codes.join(',')}, not 0,0,0,0,4,0,4,4: the cache would miss what they skipped`);
    const id = bin.buildIdOf(readFileSync(bin.BUNDLE_FILE, 'utf8'));
    if (id === undefined) throw new Error(`${bin.BUNDLE_FILE} has no build id line`);
    const tmp = `${bin.CODE_CACHE_FILE}.tmp`;
    writeFileSync(tmp, Buffer.concat([Buffer.from(id, 'latin1'), loaded.script.createCachedData()]));
    renameSync(tmp, bin.CODE_CACHE_FILE);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
    server.close();
    for (const conn of connections) conn.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
