/**
 * Enterprise-managed authorization as a user runs it (issue 16 item 5):
 * `mcpauthd idp login` once in the (scripted) browser, then `mcpauthd login
 * --idp` without one, and `mcpauthd status` naming the session and what
 * depends on it. The daemon and the CLI are child processes; the IdP and the
 * MCP server's AS are two oidc-provider instances (test/fixtures/id-jag-grants.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwtPayload } from '../daemon/oauth/token-response.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { browserEnv } from './fixtures/browser.js';
import { JWT_BEARER, TOKEN_EXCHANGE } from './fixtures/id-jag-grants.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

describe('mcpauthd idp login, then mcpauthd login --idp', () => {
  let idp: AuthServer;
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess;
  let env: NodeJS.ProcessEnv;
  let idpSecretFile: string;
  let asSecretFile: string;

  beforeAll(async () => {
    idp = await startAuthServer({
      preRegisteredClients: [
        { clientId: 'mcpauthd', clientSecret: 'idp-secret-for-cli-test-93d1', tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] },
      ],
      issueIdJags: { asClientId: 'mcp-client' },
    });
    as = await startAuthServer({
      preRegisteredClients: [{ clientId: 'mcp-client', clientSecret: 'as-secret-for-cli-test-51aa', tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: [JWT_BEARER] }],
      acceptIdJags: { idpIssuer: idp.issuer, idpJwksUri: idp.jwksUri },
    });
    mcp = await startMcpServer({ authServer: as });
    home = makeTempHome();
    idpSecretFile = join(home.root, 'idp-secret');
    asSecretFile = join(home.root, 'as-secret');
    writeFileSync(idpSecretFile, 'idp-secret-for-cli-test-93d1\n', { mode: 0o600 });
    writeFileSync(asSecretFile, 'as-secret-for-cli-test-51aa\n', { mode: 0o600 });
    env = { ...home.env, ...browserEnv() };
    daemon = await startDaemonProcess(env);
  });

  afterAll(async () => {
    await daemon.stop();
    await Promise.all([mcp.stop(), as.stop(), idp.stop()]);
    home.remove();
  });

  it('idp login signs in through the browser and keeps a session with a refresh token', async () => {
    const result = await runCliAsync(['idp', 'login', idp.issuer, '--client-id', 'mcpauthd', '--client-secret-file', idpSecretFile, '--insecure-loopback', '--json'], env);
    expect(result.stderr).toContain('waiting for you to sign in');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ issuer: idp.issuer, client_id: 'mcpauthd', subject: idp.accountId, has_refresh_token: true });
  });

  it('login --idp needs no browser and gets a token the MCP server takes', async () => {
    const before = as.requests('authorize').length;
    const result = await runCliAsync(['login', mcp.url, '--idp', idp.issuer, '--client-id', 'mcp-client', '--client-secret-file', asSecretFile, '--insecure-loopback', '--json'], env);
    expect(result.status).toBe(0);
    expect(result.stderr).not.toContain('open this URL');
    expect(result.stderr).toContain('exchanging your identity provider session for a token (no browser)');
    expect(as.requests('authorize')).toHaveLength(before);
    expect(JSON.parse(result.stdout)).toMatchObject({ resource: mcp.url, issuer: as.issuer });
    const token = await runCliAsync(['token', mcp.url], env);
    expect(token.status).toBe(0);
    expect(decodeJwtPayload(token.stdout.trim())).toMatchObject({ aud: mcp.url, sub: idp.accountId });
  });

  it('status shows the IdP session and the credential that depends on it', async () => {
    const text = await runCliAsync(['status'], env);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`idp +${idp.issuer.replace(/[.]/g, '\\.')} \\(subject ${idp.accountId}\\), ID token expires in .*, renewed with its refresh token`));
    expect(text.stdout).toContain(`used by ${mcp.url}`);
    const json = await runCliAsync(['status', '--json'], env);
    expect(JSON.parse(json.stdout).idp_sessions).toEqual([expect.objectContaining({ issuer: idp.issuer, credentials: [mcp.url] })]);
  });

  it('idp without "login" or without --client-id is a usage error that names the fix', async () => {
    const noSub = await runCliAsync(['idp', idp.issuer], env);
    expect(noSub.status).toBe(2);
    expect(noSub.stderr).toContain('mcpauthd idp login <issuer>');
    const noClient = await runCliAsync(['idp', 'login', idp.issuer], env);
    expect(noClient.status).toBe(2);
    expect(noClient.stderr).toContain('--client-id is required');
  });
});
