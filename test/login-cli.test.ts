/**
 * `mcpauthd login` end to end, as a user runs it: the daemon as a child
 * process, the CLI as another, a scripted browser as $BROWSER, a real
 * authorization server and a real MCP server that checks the audience.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwtPayload } from '../daemon/oauth/token-response.js';
import { paramValues, startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { spawn } from 'node:child_process';
import { completeLogin } from './fixtures/browser.js';
import { CLI, runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

describe('mcpauthd login (CLI → daemon → browser → AS → MCP server)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  let env: NodeJS.ProcessEnv;
  const outputs: string[] = [];
  const cli = async (args: string[], input?: string) => {
    const result = await runCliAsync(args, env, input);
    outputs.push(result.stderr, args[0] === 'token' ? '' : result.stdout);
    return result;
  };

  beforeAll(async () => {
    as = await startAuthServer({ preRegisteredClients: [{ clientId: 'pre-1', clientSecret: 'pre-registered-secret-value-1', tokenEndpointAuthMethod: 'client_secret_basic' }] });
    mcp = await startMcpServer({ authServer: as });
    home = makeTempHome();
    env = { ...home.env, ...browserEnv() };
    daemon = await startDaemonProcess(env);
  });

  afterAll(async () => {
    await daemon.stop();
    await mcp.stop();
    await as.stop();
    home.remove();
  });

  it('R1 R2 R4: should log in with the resource on the authorize and token requests, exactly once and identical', async () => {
    const result = await cli(['login', mcp.url, '--insecure-loopback', '--json']);
    expect(result.stderr).toContain('waiting for approval');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ resource: mcp.url, server_url: mcp.url, issuer: as.issuer, scopes: ['mcp:tools'], has_refresh_token: true });
    const authorize = as.requests('authorize');
    const token = as.requests('token').filter((r) => r.grantType === 'authorization_code');
    expect(authorize.length).toBeGreaterThanOrEqual(1);
    expect(token).toHaveLength(1);
    for (const request of [...authorize.slice(0, 1), ...token]) expect(paramValues(request, 'resource')).toEqual([mcp.url]);
  });

  it('T1 R5: should serve a token whose audience is the MCP server, which the server accepts', async () => {
    const { stdout, status } = await cli(['token', mcp.url]);
    expect(status).toBe(0);
    const accessToken = stdout.trim();
    expect(decodeJwtPayload(accessToken)?.['aud']).toBe(mcp.url);
    const client = new Client({ name: 'login-cli-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { Authorization: `Bearer ${accessToken}` } } }));
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('test-tool');
    const call = await client.callTool({ name: 'test-tool', arguments: {} });
    expect(JSON.stringify(call.content)).toContain('test-tool ok');
    await client.close();
  });

  it('should print the status of the new credential without any token', async () => {
    const { stdout, status } = await cli(['status', '--json']);
    expect(status).toBe(0);
    const parsed = JSON.parse(stdout) as { credentials: { resource: string; issuer: string; state: string }[] };
    expect(parsed.credentials).toEqual([expect.objectContaining({ resource: mcp.url, issuer: as.issuer, state: 'valid' })]);
  });

  it('A5: should refuse plain http without --insecure-loopback, with the fix in the message', async () => {
    const result = await cli(['login', mcp.url], undefined);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/--insecure-loopback/);
  });

  it('C1: should log in with a pre-registered client whose secret comes from a file, never argv', async () => {
    const other = await startMcpServer({ authServer: as, resourcePath: '/other' });
    try {
      const secretFile = join(home.root, 'client-secret');
      writeFileSync(secretFile, 'pre-registered-secret-value-1\n', { mode: 0o600 });
      const result = await cli(['login', other.url, '--insecure-loopback', '--client-id', 'pre-1', '--client-secret-file', secretFile, '--json']);
      expect(result.status).toBe(0);
      const exchange = as.requests('token').filter((r) => r.grantType === 'authorization_code').at(-1)!;
      expect(exchange).toMatchObject({ clientId: 'pre-1', clientAuth: 'client_secret_basic' });
      expect(paramValues(exchange, 'resource')).toEqual([other.url]);
    } finally {
      await other.stop();
    }
  });

  it('--no-browser: should take the redirect URL pasted by a user whose browser is on another machine', async () => {
    const other = await startMcpServer({ authServer: as, resourcePath: '/pasted' });
    try {
      const child = spawn(process.execPath, [CLI, 'login', other.url, '--insecure-loopback', '--no-browser', '--json'], { env: home.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const authorizeUrl = await new Promise<string>((resolve) => {
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
          const match = /^\s+(http\S+\/authorize\S+)$/m.exec(stderr);
          if (match?.[1] !== undefined) resolve(match[1]);
        });
      });
      // The "other machine": log in there, and do not let it reach our loopback listener.
      const { callbackUrl } = await completeLogin(authorizeUrl, { deliverCallback: false });
      child.stdin.write(`${callbackUrl}\n`);
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      outputs.push(stdout, stderr);
      expect(stderr).toContain('paste the URL');
      expect(status).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ resource: other.url });
    } finally {
      await other.stop();
    }
  });

  it('T4: logout should revoke at the authorization server and delete the credential', async () => {
    const before = as.requests('revoke').length;
    const result = await cli(['logout', mcp.url, '--json']);
    expect(result.status).toBe(0);
    // oidc-provider revokes the refresh token and declines its JWT access tokens (unsupported_token_type).
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: true, revoked: false, revoked_tokens: ['refresh_token'], resource: mcp.url });
    expect(as.requests('revoke').length - before).toBe(2); // refresh token, then access token
    expect((await cli(['token', mcp.url])).status).toBe(4);
  });

  it('should never show a secret the authorization server issued in any output', () => {
    const everything = [...outputs, daemon.stderr(), daemon.stdout()].join('\n');
    expect(everything).toContain('login');
    const secrets = as.issuedSecrets();
    expect(secrets.length).toBeGreaterThan(3);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
