/**
 * `mcpauthd login --client-credentials` as a user runs it (issue 16 item 4):
 * the daemon and the CLI as child processes, the real oidc-provider with
 * client credentials on, a real MCP server checking the audience. Secrets
 * come from files, never argv; only the public key is ever printed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwtPayload } from '../daemon/oauth/token-response.js';
import { paramValues, startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { recordOutput, recordPrivateJwk } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { openSealedStore } from './helpers/sealed-store.js';

const SECRET = 'cli-machine-secret-0123456789abcdef';

describe('mcpauthd login --client-credentials (CLI → daemon → AS)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  const cli = async (args: string[]) => {
    const result = await runCliAsync(args, home.env);
    recordOutput(`mcpauthd ${args[0]} stderr`, result.stderr);
    if (args[0] !== 'token') recordOutput(`mcpauthd ${args[0]} stdout`, result.stdout);
    // What the user typed: never a secret.
    expect(args.join(' ')).not.toContain(SECRET);
    return result;
  };

  beforeAll(async () => {
    as = await startAuthServer({
      clientCredentials: true,
      preRegisteredClients: [{ clientId: 'cli-basic', clientSecret: SECRET, tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['client_credentials'] }],
    });
    mcp = await startMcpServer({ authServer: as, requiredScopes: [] });
    home = makeTempHome();
    daemon = await startDaemonProcess(home.env);
  });
  afterAll(async () => {
    await daemon.stop();
    await mcp.stop();
    await as.stop();
    home.remove();
  });

  it('documents the machine flags in --help', async () => {
    const { stdout, status } = await cli(['login', '--help']);
    expect(status).toBe(0);
    for (const flag of ['--client-credentials', '--client-auth', '--client-key-file', '--jwks-out', '--jwt-bearer', '--assertion-file']) expect(stdout).toContain(flag);
  });

  it('refuses incomplete machine logins with a usage error naming the missing flag', async () => {
    const wif = await cli(['login', mcp.url, '--jwt-bearer', '--client-id', 'x']);
    expect(wif.status).toBe(2);
    expect(wif.stderr).toContain('--assertion-file');
    const stray = await cli(['login', mcp.url, '--jwks-out', join(home.root, 'x.json')]);
    expect(stray.status).toBe(2);
    expect(stray.stderr).toContain('--client-credentials');
  });

  it('logs in with a secret read from a file; the token is for the resource; no secret in any output', async () => {
    const secretFile = join(home.root, 'secret.txt');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const login = await cli(['login', mcp.url, '--client-credentials', '--client-id', 'cli-basic', '--client-secret-file', secretFile, '--insecure-loopback', '--json']);
    expect(login.status).toBe(0);
    expect(JSON.parse(login.stdout)).toMatchObject({ resource: mcp.url, issuer: as.issuer, has_refresh_token: false });
    const request = as.requests('token').filter((r) => r.grantType === 'client_credentials').at(-1);
    expect(request?.clientAuth).toBe('client_secret_basic');
    expect(paramValues(request!, 'resource')).toEqual([mcp.url]);

    const token = await runCliAsync(['token', mcp.url], home.env);
    expect(token.status).toBe(0);
    expect(decodeJwtPayload(token.stdout.trim())?.['aud']).toBe(mcp.url);
    const status = await cli(['status', '--json']);
    expect(status.stdout).not.toContain(token.stdout.trim());
    for (const output of [login.stdout, login.stderr, status.stdout, daemon.stdout(), daemon.stderr()]) expect(output).not.toContain(SECRET);
  });

  it('makes a key, writes only its public half as JWKS, and logs in once that key is registered', async () => {
    const jwksFile = join(home.root, 'bot.jwks.json');
    const args = ['login', mcp.url, '--client-credentials', '--client-id', 'cli-key-bot', '--jwks-out', jwksFile, '--insecure-loopback'];
    const first = await cli(args);
    expect(first.status).not.toBe(0);
    expect(first.stderr).toContain('a new key was made for client cli-key-bot');
    expect(first.stderr).toMatch(/register the public key/);
    const jwks = JSON.parse(readFileSync(jwksFile, 'utf8')) as { keys: Record<string, string>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    // The private half stays in the daemon's database; the ledger checks every output for it.
    // (Sealed at rest: read through the store with the temp home's key.)
    const store = openSealedStore(home.paths);
    const clientKey = store.getClientRegistration(as.issuer, 'cli-key-bot')?.clientKey?.reveal() ?? '';
    store.close();
    recordPrivateJwk(clientKey);
    expect(first.stderr).not.toContain((JSON.parse(clientKey) as { d: string }).d);

    await as.addClient({ clientId: 'cli-key-bot', tokenEndpointAuthMethod: 'private_key_jwt', grantTypes: ['client_credentials'], jwks: { keys: jwks.keys } });
    const second = await cli(args);
    expect(second.status).toBe(0);
    expect(second.stderr).toContain(`authenticates with key ${jwks.keys[0]?.['kid']}`);
    expect(second.stdout).toContain('renewed by the daemon before it expires');
  });
});
