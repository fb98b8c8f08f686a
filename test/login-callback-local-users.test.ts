/**
 * The login's loopback callback against other local users, with a real daemon
 * process, a real authorization server and the real second user (issue 13
 * items 1-3, issue 12 item 10):
 *
 * - the browser's argv holds only the single-use start URL: no state, no challenge;
 * - the second user's requests to the start URL and to /callback get no byte
 *   back, and the login completes afterwards as if nothing happened;
 * - a forged `login.callback` is `invalid_request` and the login keeps waiting;
 * - a flood of 10,000 connections during a login leaves token.get answered
 *   for every request, and the login still completes.
 *
 * The second-user cases need root (to create the user and run as it); without
 * it they are reported skipped, loudly: a skip is not a pass.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpAuthdClient } from '../client/index.js';
import type { LoginProgress, LoginResult } from '../shared/protocol/login-types.js';
import { isLoginStartUrl } from '../shared/login-start-url.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv, completeLogin } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { ensurePeerUser, isRoot, peerSkipReason, runScript } from './helpers/peer-user.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

if (peerSkipReason !== undefined) process.stdout.write(`login-callback-local-users: second-user cases SKIPPED: ${peerSkipReason}. This is not a pass.\n`);
const asRoot = isRoot ? it : it.skip;

// As the other user: one GET per path on its own connection; reports the bytes that came back.
const PROBE_SCRIPT = `
const net = require('node:net');
const [port, ...paths] = process.argv.slice(1);
const results = [];
const one = (path) => new Promise((resolve) => {
  let received = '';
  const socket = net.connect({ port: Number(port), host: '127.0.0.1' }, () => socket.write('GET ' + path + ' HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n'));
  socket.on('data', (d) => (received += d));
  socket.on('error', () => undefined);
  socket.on('close', () => resolve(received.length));
  setTimeout(() => { socket.destroy(); resolve(-1); }, 5000).unref();
});
(async () => { for (const p of paths) results.push(await one(p)); process.stdout.write(JSON.stringify(results) + '\\n'); })();
`;

// A flood: \`total\` connections, \`parallel\` at a time, each sending half a request and holding on.
const FLOOD_SCRIPT = `
const net = require('node:net');
const [port, total, parallel] = process.argv.slice(1).map(Number);
let started = 0, closed = 0, answered = 0, errors = 0, reported = false;
const report = () => { if (reported) return; reported = true; process.stdout.write(JSON.stringify({ started, closed, answered, errors }) + '\\n'); process.exit(0); };
function one() {
  if (started >= total) return;
  started++;
  const socket = net.connect({ port, host: '127.0.0.1' });
  let counted = false;
  socket.on('connect', () => socket.write('GET /callback?state=x&code=y HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n'));
  socket.on('data', () => { if (!counted) { counted = true; answered++; } });
  socket.on('error', () => { errors++; });
  socket.on('close', () => { closed++; if (closed === total) report(); else one(); });
}
for (let i = 0; i < parallel; i++) one();
setTimeout(report, 60000);
`;

describe('the login callback and other local users (real daemon)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let other: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  let client: McpAuthdClient;
  let peerUid = -1;

  beforeAll(async () => {
    if (isRoot) peerUid = ensurePeerUser();
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    other = await startMcpServer({ authServer: as, resourcePath: '/second' });
    home = makeTempHome();
    daemon = await startDaemonProcess(home.env);
    client = new McpAuthdClient({ socket: home.paths.socket });
  });

  afterAll(async () => {
    client.close();
    await daemon.stop();
    await Promise.all([mcp.stop(), other.stop()]);
    await as.stop();
    home.remove();
  });

  /** Starts a login and resolves with its start URL once the daemon hands it out. */
  function startLogin(serverUrl: string): { started: Promise<LoginProgress>; done: Promise<LoginResult> } {
    let onStart!: (p: LoginProgress) => void;
    const started = new Promise<LoginProgress>((resolve) => (onStart = resolve));
    const done = client.login({ server_url: serverUrl, insecure_loopback: true, timeout: 60 }, (p) => {
      if (p.stage === 'authorize_url') onStart(p);
    });
    done.catch(() => undefined);
    return { started, done };
  }

  it('issue 13 item 1: `mcpauthd login` puts only the start URL on the browser command line', async () => {
    const argvFile = join(home.root, 'browser-argv.jsonl');
    const result = await runCliAsync(['login', mcp.url, '--insecure-loopback', '--json'], { ...home.env, ...browserEnv(), SCRIPTED_BROWSER_ARGV_FILE: argvFile });
    expect(result.status).toBe(0);
    const argvs = readFileSync(argvFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as string[]);
    expect(argvs).toHaveLength(1);
    const argv = argvs[0] ?? [];
    expect(argv).toHaveLength(1);
    expect(isLoginStartUrl(argv[0] ?? '')).toBe(true);
    expect(argv.join(' ')).not.toMatch(/state|code_challenge|authorize|redirect_uri/);
    expect(result.stderr).not.toMatch(/state=|code_challenge=/);
  });

  it('issue 12 item 10: login.callback with a wrong state is invalid_request over the socket, and the login keeps waiting', async () => {
    await client.logout(other.url).catch((err: { code?: string }) => {
      if (err.code !== 'not_found') throw err;
    });
    const login = startLogin(other.url);
    const progress = await login.started;
    const { callbackUrl } = await completeLogin(progress.start_url ?? '', { deliverCallback: false });
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', 'forged-state');
    await expect(client.submitCallback(progress.login_id, forged.href)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(client.submitCallback(progress.login_id, callbackUrl)).resolves.toBe(true);
    await expect(login.done).resolves.toMatchObject({ resource: other.resource });
  });

  asRoot('issue 13 items 1-2: the second user gets nothing from the start URL or /callback, and the login completes', async () => {
    const login = startLogin(other.url);
    const progress = await login.started;
    const start = new URL(progress.start_url ?? '');
    const forged = `/callback?state=forged&code=mallory-code-000`;
    const received = await runScript<number[]>(PROBE_SCRIPT, [start.port, start.pathname, forged, '/'], true);
    // Connection closed without a byte: no redirect (no state), no error page, nothing decided.
    expect(received).toEqual([0, 0, 0]);
    // The start URL was not used up by the refused visit: the user's browser still gets the redirect.
    const { callbackStatus } = await completeLogin(start.href);
    expect(callbackStatus).toBe(200);
    await expect(login.done).resolves.toMatchObject({ resource: other.resource });
    expect(daemon.stderr()).toContain('login callback: connection from another user refused');
    expect(daemon.stderr()).toContain(`"uid":${peerUid}`);
  });

  it('issue 13 item 3: a flood of 10,000 connections during a login leaves token.get answered for everyone, and the login completes', async () => {
    // Tight fd limit for the daemon, as on a default desktop: without the cap the flood would exhaust it.
    expect(spawnSync('prlimit', [`--pid=${daemon.pid}`, '--nofile=1024:1024']).status).toBe(0);
    // The second-user case (root only) logged in to `other` already.
    await client.logout(other.url).catch((err: { code?: string }) => {
      if (err.code !== 'not_found') throw err;
    });
    const login = startLogin(other.url);
    const start = new URL((await login.started).start_url ?? '');
    const flood = runScript<{ started: number; closed: number; answered: number; errors: number }>(FLOOD_SCRIPT, [start.port, '10000', '400'], isRoot);
    let floodDone = false;
    void flood.finally(() => (floodDone = true));
    const answers: string[] = [];
    const failures: string[] = [];
    while (!floodDone) {
      try {
        answers.push((await client.getToken(mcp.url)).access_token);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    const outcome = await flood;
    expect(failures).toEqual([]);
    expect(outcome.closed).toBe(10_000);
    // The other user's connections never got a byte back (as this user they meet the caps and timeouts instead).
    if (isRoot) expect(outcome.answered).toBe(0);
    expect(answers.length).toBeGreaterThan(10);
    expect(new Set(answers).size).toBeGreaterThanOrEqual(1);
    const { callbackStatus } = await completeLogin(start.href);
    expect(callbackStatus).toBe(200);
    await expect(login.done).resolves.toMatchObject({ resource: other.resource });
    // One log line per uid and reason, then a count: the flood does not flood the log.
    const refusals = daemon.stderr().split('\n').filter((line) => line.includes('connection from another user refused'));
    expect(refusals.length).toBeLessThan(10);
  }, 40_000);
});
