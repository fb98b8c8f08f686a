/**
 * Runs the snippets of docs/integrations.md. Every code block there is marked
 * with the test that exercises it; the ones marked for this file are taken out
 * of the document as written, with https://mcp.example.com/mcp replaced by a
 * local SDK server that checks the token's audience and `mcpauthd` by the
 * built CLI, and then run the way the MCP client in question would run them:
 * a stdio config is started by the SDK's stdio client and a tool is called
 * through it; a headers helper is run by a shell and its headers are used by
 * the SDK's HTTP transport; shell lines run in sh; library code runs in node
 * or python3.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { CLI, REPO_ROOT, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { runProcess, type ProcessRun } from './helpers/run-process.js';
import { recordOutput } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

const DOC = join(REPO_ROOT, 'docs', 'integrations.md');
const EXAMPLE_URL = 'https://mcp.example.com/mcp';
const MARK = /<!-- exercised by test\/integrations-doc\.test\.ts \("([^"]+)"\)[^>]*-->\n```(\w+)\n([\s\S]*?)\n```/g;

interface Snippet {
  lang: string;
  code: string;
}

function snippets(): Map<string, Snippet> {
  const found = new Map<string, Snippet>();
  for (const m of readFileSync(DOC, 'utf8').matchAll(MARK)) found.set(m[1] as string, { lang: m[2] as string, code: m[3] as string });
  return found;
}

/** The stdio command a client config names: [command, ...args]. */
function commandOf(snippet: Snippet): string[] {
  if (snippet.lang === 'toml') {
    const command = /^command = "(.*)"$/m.exec(snippet.code)?.[1];
    const args = /^args = (\[.*\])$/m.exec(snippet.code)?.[1];
    return [command as string, ...(JSON.parse(args as string) as string[])];
  }
  if (snippet.lang === 'sh') return (snippet.code.split(' -- ')[1] as string).trim().split(/\s+/);
  const config = JSON.parse(snippet.code) as Record<string, Record<string, { command: string; args: string[] }>>;
  const server = Object.values(config['mcpServers'] ?? config['servers'] ?? {})[0] as { command: string; args: string[] };
  return [server.command, ...server.args];
}

// Asynchronous: the authorization and MCP servers run in this process and must keep answering.
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ProcessRun> {
  return runProcess(command, args, { env });
}

describe('docs/integrations.md', () => {
  const docs = snippets();
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  let env: NodeJS.ProcessEnv;
  let scratch: string;
  // Outputs that must not contain a secret (a token printed on purpose is not collected).
  const outputs: string[] = [];

  const snippet = (id: string): Snippet => {
    const s = docs.get(id);
    if (s === undefined) throw new Error(`docs/integrations.md has no snippet marked "${id}"`);
    return { ...s, code: s.code.split(EXAMPLE_URL).join(mcp.url) };
  };
  // `mcpauthd` in a shell snippet is the built CLI.
  const sh = (code: string) => run('sh', ['-c', `mcpauthd() { "$MCPAUTHD_NODE" "$MCPAUTHD_CLI" "$@"; }\n${code}`], { ...env, MCPAUTHD_NODE: process.execPath, MCPAUTHD_CLI: CLI });
  const echoThrough = async (transport: StdioClientTransport | StreamableHTTPClientTransport, text: string) => {
    const client = new Client({ name: 'doc-test', version: '1.0.0' });
    try {
      await client.connect(transport);
      return ((await client.callTool({ name: 'echo', arguments: { text } })).content as { text: string }[])[0]?.text;
    } finally {
      await client.close();
    }
  };

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    home = makeTempHome();
    // MCPAUTHD_INSECURE_LOOPBACK: the test servers are plain http on 127.0.0.1.
    env = { ...home.env, ...browserEnv(), MCPAUTHD_INSECURE_LOOPBACK: '1' };
    daemon = await startDaemonProcess(env);
    scratch = mkdtempSync(join(tmpdir(), 'mcpauthd-doc-'));
  });
  afterAll(async () => {
    await daemon.stop();
    home.remove();
    rmSync(scratch, { recursive: true, force: true });
    await mcp.stop();
    await as.stop();
  });

  it('should say, above every code block, which test or manual run exercised it', () => {
    const text = readFileSync(DOC, 'utf8');
    const fences = [...text.matchAll(/^```\w+$/gm)].length;
    const marked = [...text.matchAll(/<!-- (?:exercised by|the same calls as) test\/[\w.-]+\.test\.ts[^>]*-->\n```\w+\n/g)].length;
    expect(fences).toBeGreaterThan(10);
    expect(marked).toBe(fences);
  });

  it('login: should log in through the daemon (the scripted browser approves)', async () => {
    const result = await sh(snippet('login').code);
    outputs.push(result.stdout, result.stderr);
    expect(result.stderr).toContain('open this URL to approve the login');
    expect(result.stdout).toContain(`resource  ${mcp.url}`);
    expect(result.status).toBe(0);
  });

  it.each(['codex', 'codex-add', 'claude-code-add', 'claude-code-json', 'claude-desktop', 'vscode', 'cursor'])(
    '%s: should start the configured proxy and call a tool through it',
    async (id) => {
      const [command, ...args] = commandOf(snippet(id));
      expect(command).toBe('mcpauthd');
      expect(args).toEqual(['proxy', mcp.url]);
      const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, ...args], env: env as Record<string, string>, stderr: 'pipe' });
      let stderr = '';
      transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      expect(await echoThrough(transport, id)).toBe(id);
      outputs.push(stderr);
    },
  );

  it('claude-code-headers-helper: should print headers an HTTP transport can use', async () => {
    const config = JSON.parse(snippet('claude-code-headers-helper').code) as { mcpServers: Record<string, { type: string; url: string; headersHelper: string }> };
    const server = Object.values(config.mcpServers)[0]!;
    expect(server).toMatchObject({ type: 'http', url: mcp.url });
    const result = await sh(server.headersHelper);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    const headers = JSON.parse(result.stdout) as Record<string, string>;
    expect(Object.keys(headers)).toEqual(['Authorization']);
    expect(headers['Authorization']).toMatch(/^Bearer eyJ/);
    expect(await echoThrough(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers } }), 'headers helper')).toBe('headers helper');
    // Without --header, --json prints the token.get result.
    const plain = await sh(`mcpauthd token --json ${mcp.url}`);
    expect(JSON.parse(plain.stdout)).toEqual({ access_token: headers['Authorization']?.slice('Bearer '.length), token_type: 'Bearer', expires_at: expect.any(Number), resource: mcp.url, scopes: ['mcp:tools'] });
  });

  it('curl: should send the header line from `mcpauthd token --header`', async () => {
    const result = await sh(snippet('curl').code);
    outputs.push(result.stdout, result.stderr);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('"protocolVersion":"2025-06-18"');
    expect(mcp.requests().at(-1)).toMatchObject({ outcome: 'mcp', tokenAud: [mcp.url] });
  });

  it.each(['ts-fetch', 'ts-provider'])('%s: should run as written against the built library', async (id) => {
    const code = snippet(id)
      .code.replace(/from '@modelcontextprotocol\/sdk\/([^']+)'/g, (_m, path: string) => `from '${pathToFileURL(join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm', path)).href}'`)
      .replace(/from 'mcpauthd\/client'/g, `from '${pathToFileURL(join(REPO_ROOT, 'dist', 'client', 'index.js')).href}'`);
    const check =
      id === 'ts-fetch'
        ? `console.log(JSON.stringify((await client.callTool({ name: 'echo', arguments: { text: 'from the doc' } })).content));`
        : 'console.log(JSON.stringify(result.content));';
    const file = join(scratch, `${id}.mjs`);
    writeFileSync(file, `${code}\n${check}\nawait client.close();\n`);
    const result = await run(process.execPath, [file], env);
    outputs.push(result.stdout, result.stderr);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual([{ type: 'text', text: id === 'ts-fetch' ? 'from the doc' : 'hello' }]);
  });

  it('python-command: should print the token and the header line', async () => {
    // The paths in the snippet are relative to the repository.
    const [tokenLine, headerLine] = snippet('python-command').code.split('\n');
    const token = await sh(`cd "${REPO_ROOT}" && ${tokenLine as string}`);
    const header = await sh(`cd "${REPO_ROOT}" && ${headerLine as string}`);
    expect(token).toMatchObject({ status: 0, stderr: '' });
    expect(token.stdout).toMatch(/^eyJ[\w.-]+\n$/);
    expect(header.stdout).toBe(`Authorization: Bearer ${token.stdout}`);
  });

  it('python-module: should get a token, and turn a missing credential into the login hint', async () => {
    const code = snippet('python-module').code;
    const pyEnv = { ...env, PYTHONPATH: join(REPO_ROOT, 'client', 'python') };
    expect(await run('python3', ['-c', code], pyEnv)).toEqual({ status: 0, stdout: '', stderr: '' });
    const missing = await run('python3', ['-c', code.split(mcp.url).join(`${mcp.url}/nowhere`)], pyEnv);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toBe(`run: mcpauthd login ${mcp.url}/nowhere`);
  });

  it('should leave no secret the authorization server issued in any output or the daemon log', () => {
    outputs.push(daemon.stdout(), daemon.stderr());
    recordOutput('docs/integrations.md snippet outputs (integrations-doc.test.ts)', outputs.join('\n'));
    for (const secret of as.issuedSecrets()) expect(outputs.join('\n')).not.toContain(secret);
  });
});
