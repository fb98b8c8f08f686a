#!/usr/bin/env node
// `npm run demo`: mcpauthd end to end on this machine, with no account anywhere.
//
// Starts the test authorization server (oidc-provider) and an MCP server (the
// official SDK) on 127.0.0.1, a daemon with a throw-away home, logs in through
// the daemon (a scripted browser plays the user), shows `mcpauthd status`,
// calls a tool through `mcpauthd proxy` the way a stdio-only MCP client would,
// and cleans up. Uses the built dist/ (the servers are the compiled test
// fixtures under dist/test/fixtures) and test/fixtures/scripted-browser.mjs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'client', 'cli', 'main.js');
const FIXTURES = join(ROOT, 'dist', 'test', 'fixtures');
const BROWSER = join(ROOT, 'test', 'fixtures', 'scripted-browser.mjs');
const started = Date.now();

if (!existsSync(CLI) || !existsSync(join(FIXTURES, 'auth-server.js'))) {
  process.stderr.write('demo: dist/ is missing; run "npm run build" first\n');
  process.exit(1);
}

const { startAuthServer } = await import(join(FIXTURES, 'auth-server.js'));
const { startMcpServer } = await import(join(FIXTURES, 'mcp-server.js'));
const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');

let stepNo = 0;
const bold = process.stdout.isTTY === true && process.env.NO_COLOR === undefined ? (t) => `\x1b[1m${t}\x1b[0m` : (t) => t;
const step = (title) => process.stdout.write(`\n${bold(`${++stepNo}. ${title}`)}\n`);
const say = (text) => process.stdout.write(`${text.replace(/^/gm, '   ')}\n`);
// Authorize URLs carry a PKCE challenge and state: long and not interesting here.
const shorten = (text) => text.replace(/(https?:\/\/[^\s?]+\?)\S{60,}/g, '$1…');

/** Runs the CLI like a user would, and shows what it printed. */
function mcpauthd(args, env) {
  say(`$ mcpauthd ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    child.once('close', (code) => {
      say(shorten(out.trimEnd()));
      if (code === 0) resolve(out);
      else reject(new Error(`mcpauthd ${args[0]} exited with ${code}`));
    });
  });
}

function startDaemon(env) {
  const child = spawn(process.execPath, [CLI, 'daemon'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d) => d.includes('mcpauthd ready') && resolve());
    void exited.then((code) => reject(new Error(`the daemon exited (${code}) before it was ready:\n${log}`)));
  });
  return { child, ready, exited };
}

const scratch = mkdtempSync(join(tmpdir(), 'mcpauthd-demo-'));
const env = {
  ...process.env,
  MCPAUTHD_HOME: join(scratch, 'home'),
  MCPAUTHD_SOCKET: join(scratch, 'run', 'mcpauthd.sock'),
  MCPAUTHD_LOG_LEVEL: 'warn',
  // The servers are plain http on 127.0.0.1, which mcpauthd allows only when asked to.
  MCPAUTHD_INSECURE_LOOPBACK: '1',
  // "Opening the browser" runs the scripted test user, who approves at once.
  BROWSER,
};
let as;
let mcp;
let daemon;
let client;
let exitCode = 0;

try {
  step('Start a local OAuth authorization server and an MCP server that needs its tokens');
  as = await startAuthServer();
  mcp = await startMcpServer({ authServer: as, stateful: true });
  say(`authorization server  ${as.issuer}  (oidc-provider, open client registration)`);
  say(`MCP server            ${mcp.url}  (checks that each token was issued for it)`);

  step('Start the mcpauthd daemon with a throw-away home');
  daemon = startDaemon(env);
  await daemon.ready;
  say(`home    ${env.MCPAUTHD_HOME}`);
  say(`socket  ${env.MCPAUTHD_SOCKET}`);

  step('Log in through the daemon (the scripted browser approves)');
  await mcpauthd(['login', mcp.url], env);

  step('Look at the credential (tokens are never shown)');
  await mcpauthd(['status'], env);

  step('Call a tool through `mcpauthd proxy`, as Codex, Claude Desktop, VS Code or Cursor would');
  say(`(an MCP SDK client starts: mcpauthd proxy ${mcp.url})`);
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'proxy', mcp.url], env, stderr: 'pipe' });
  client = new Client({ name: 'mcpauthd-demo', version: '1.0.0' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  say(`tools: ${tools.map((t) => t.name).join(', ')}`);
  const result = await client.callTool({ name: 'echo', arguments: { text: 'hello through mcpauthd' } });
  say(`echo -> ${result.content[0].text}`);

  step('Refresh now: the proxy picks up the new token by itself');
  await mcpauthd(['refresh', mcp.url], env);
  const again = await client.callTool({ name: 'test-tool' });
  say(`test-tool -> ${again.content[0].text}`);
} catch (err) {
  exitCode = 1;
  process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  step('Clean up');
  await client?.close();
  if (daemon !== undefined) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  await mcp?.stop();
  await as?.stop();
  rmSync(scratch, { recursive: true, force: true });
  say(`stopped everything and removed ${scratch}`);
  process.stdout.write(`\n${exitCode === 0 ? 'done' : 'failed'} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
process.exitCode = exitCode;
