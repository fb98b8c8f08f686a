/**
 * DPoP (RFC 9449, issue 17) end to end: oidc-provider with features.dPoP, the
 * test MCP server verifying every proof, a daemon in this process (started
 * twice on one home for the restart), and the fetch wrapper with a real MCP SDK
 * client. What a user would check: the tokens are bound to the daemon's key
 * (cnf.jkt), refresh keeps the key across a restart, a replayed proof or one
 * for another URL is refused by the server, the server's nonce is honoured,
 * and no key or proof shows in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Writable } from 'node:stream';
import { McpAuthdClient } from '../client/index.js';
import { createAuthorizedFetch } from '../client/mcp-fetch.js';
import { createOAuthClientProvider } from '../client/mcp-auth-provider.js';
import { startDaemon, type DaemonHandle } from '../daemon/daemon.js';
import { createLogger } from '../daemon/os/logger.js';
import { decodeJwtPayload } from '../daemon/oauth/token-response.js';
import { jwkThumbprint, parseDpopKey } from '../daemon/oauth/dpop.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { completeLogin } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { echo, tokenRequests } from './helpers/mcp-auth-stack.js';
import { outputStream, recordOutput, recordSecret } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { runProcess } from './helpers/run-process.js';
import { runCliAsync } from './helpers/daemon-process.js';
import { fileURLToPath } from 'node:url';

const PYTHON_CLIENT_DIR = fileURLToPath(new URL('../client/python/', import.meta.url));
/** The Python client's urlopen(): tools/list over plain JSON-RPC, then the same from its CLI with --header. */
const PYTHON_SCRIPT = `
import json, sys
from mcpauthd_client import McpAuthdClient
server = sys.argv[1]
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).encode()
headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
with McpAuthdClient(sys.argv[2]) as authd:
    for _ in range(2):
        with authd.urlopen(server, server, data=body, headers=headers) as response:
            print(response.status)
`;

/** A daemon on `home`, its log going to the ledger (and kept for the test). */
async function daemonOn(home: TempHome, logs: string[]): Promise<DaemonHandle> {
  const ledger = outputStream('dpop test daemon log');
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      ledger(chunk.toString('utf8'));
      cb();
    },
  });
  return startDaemon({ paths: home.paths, logger: createLogger({ level: 'debug', stream }) });
}

async function login(authd: McpAuthdClient, serverUrl: string): Promise<void> {
  const browsers: Promise<unknown>[] = [];
  await authd.login({ server_url: serverUrl, insecure_loopback: true, timeout: 20 }, (p) => {
    if (p.stage === 'authorize_url' && p.authorize_url !== undefined) browsers.push(completeLogin(p.authorize_url));
  });
  await Promise.all(browsers);
}

/** The stored private key of the credential, taught to the ledger (whole JWK and its private member). */
function storedKey(daemon: DaemonHandle, resource: string): { jkt: string; json: string } {
  const record = daemon.store.findByResource(resource);
  if (record?.dpopKey == null) throw new Error('no DPoP key stored');
  const json = record.dpopKey.reveal();
  recordSecret(json);
  recordSecret(String((JSON.parse(json) as { d: string }).d));
  return { jkt: jwkThumbprint(parseDpopKey(record.dpopKey).publicJwk), json };
}

function cnfJkt(accessToken: string): unknown {
  return (decodeJwtPayload(accessToken)?.['cnf'] as { jkt?: unknown } | undefined)?.jkt;
}

describe('DPoP-bound credentials (RFC 9449)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonHandle;
  let authd: McpAuthdClient;
  const logs: string[] = [];

  beforeAll(async () => {
    as = await startAuthServer({ dpop: true });
    mcp = await startMcpServer({ authServer: as, dpop: true });
    home = makeTempHome();
    daemon = await daemonOn(home, logs);
    authd = new McpAuthdClient({ socket: home.paths.socket });
    await login(authd, mcp.url);
  });
  afterAll(async () => {
    authd.close();
    await daemon.close();
    await mcp.stop();
    await as.stop();
    home.remove();
  });

  it('should bind the access and refresh tokens to a key only the daemon holds (cnf.jkt)', async () => {
    const { jkt, json } = storedKey(daemon, mcp.url);
    expect(JSON.parse(json)).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' }); // ES256: the server lists it
    const [exchange] = tokenRequests(as, 'authorization_code');
    expect(exchange?.dpop).toMatchObject({ jkt, htm: 'POST', htu: as.tokenEndpoint });
    const token = await authd.getToken(mcp.url);
    expect(token.token_type).toBe('DPoP');
    expect(cnfJkt(token.access_token)).toBe(jkt);
    // The refresh token is bound too: presented without a proof, the server refuses it.
    const refreshToken = daemon.store.findByResource(mcp.url)?.refreshToken?.reveal() ?? '';
    const record = daemon.store.findByResource(mcp.url);
    const bare = await fetch(as.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: record?.clientId ?? '', resource: mcp.url }),
    });
    expect(bare.status).toBe(400);
    expect(((await bare.json()) as { error: string }).error).toMatch(/invalid_(grant|dpop_proof)/);
  });

  it('should send a fresh proof with every MCP request through the fetch wrapper', async () => {
    mcp.clearRequests();
    const client = new Client({ name: 'dpop-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { fetch: createAuthorizedFetch(mcp.url, { client: authd }) }));
    try {
      expect(await echo(client, 'one')).toBe('one');
      expect(await echo(client, 'two')).toBe('two');
    } finally {
      await client.close();
    }
    const served = mcp.requests().filter((r) => r.outcome === 'mcp');
    expect(served.length).toBeGreaterThanOrEqual(3);
    expect(served.every((r) => r.scheme === 'dpop')).toBe(true);
    const jtis = mcp.dpop?.accepted.map((p) => p.jti) ?? [];
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('should have a replayed proof, or one made for another URL, refused by the server', async () => {
    const signed = await authd.getDpopProof(mcp.url, { htm: 'POST', htu: mcp.url });
    const send = (proof: string, url = mcp.url) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `DPoP ${signed.access_token}`, dpop: proof, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
    expect((await send(signed.proof)).status).toBe(200);
    const replayed = await send(signed.proof);
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
    expect(mcp.requests().at(-1)?.detail).toMatch(/replayed/);

    const elsewhere = await authd.getDpopProof(mcp.url, { htm: 'POST', htu: `${mcp.origin}/other` });
    expect((await send(elsewhere.proof)).status).toBe(401);
    expect(mcp.requests().at(-1)?.detail).toMatch(/htu/);
    // A bound token presented as Bearer is refused as well.
    const bearer = await fetch(mcp.url, { method: 'POST', headers: { authorization: `Bearer ${signed.access_token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(bearer.status).toBe(401);
  });

  it('should refuse to sign a proof for another server (invariant 1)', async () => {
    const port = new URL(mcp.url).port;
    for (const htu of ['https://evil.example/mcp', `http://localhost:${port}/mcp`, `http://127.0.0.1.evil.example:${port}/mcp`, `http://127.0.0.1:${Number(port) + 1}/mcp`]) {
      await expect(authd.getDpopProof(mcp.url, { htm: 'POST', htu })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/only made for its own server/) });
    }
  });

  it('should have `mcpauthd token --header` refuse a DPoP-bound credential, pointing to the proxy', async () => {
    const result = await runCliAsync(['token', '--header', mcp.url], home.env);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/DPoP-bound.*mcpauthd proxy/);
  });

  it('should refresh with the same key after a daemon restart', async () => {
    const before = storedKey(daemon, mcp.url);
    authd.close();
    await daemon.close();
    daemon = await daemonOn(home, logs);
    authd = new McpAuthdClient({ socket: home.paths.socket });
    await authd.refresh(mcp.url);
    const refresh = tokenRequests(as, 'refresh_token').at(-1);
    expect(refresh?.status).toBe(200);
    expect(refresh?.dpop?.jkt).toBe(before.jkt);
    const token = await authd.getToken(mcp.url);
    expect(token.token_type).toBe('DPoP');
    expect(cnfJkt(token.access_token)).toBe(before.jkt);
    expect(storedKey(daemon, mcp.url).json).toBe(before.json);
  });

  it('should show no key or proof in status or the logs', async () => {
    const status = JSON.stringify(await authd.status());
    recordOutput('dpop status', status);
    const { json } = storedKey(daemon, mcp.url);
    const d = (JSON.parse(json) as { d: string }).d;
    for (const text of [status, logs.join('')]) {
      expect(text).not.toContain(d);
      expect(text).not.toMatch(/eyJ0eXAiOiJkcG9wK2p3dCI/); // a proof's header {"typ":"dpop+jwt"
    }
  });
});

describe('DPoP nonces (RFC 9449 §8, §9)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonHandle;
  let authd: McpAuthdClient;

  beforeAll(async () => {
    as = await startAuthServer({ dpop: { requireNonce: true } });
    mcp = await startMcpServer({ authServer: as, dpop: { requireNonce: true } });
    home = makeTempHome();
    daemon = await daemonOn(home, []);
    authd = new McpAuthdClient({ socket: home.paths.socket });
  });
  afterAll(async () => {
    authd.close();
    await daemon.close();
    await mcp.stop();
    await as.stop();
    home.remove();
  });

  it("should retry the token request once with the authorization server's nonce", async () => {
    await login(authd, mcp.url);
    const exchanges = tokenRequests(as, 'authorization_code');
    expect(exchanges.map((r) => r.status)).toEqual([400, 200]);
    expect(exchanges[0]?.dpop?.nonce).toBeUndefined();
    expect(typeof exchanges[1]?.dpop?.nonce).toBe('string');
    expect((await authd.getToken(mcp.url)).token_type).toBe('DPoP');
  });

  it("should answer the token endpoint's nonce on refresh too, without losing the grant (invariant 7)", async () => {
    as.clearRequests();
    await authd.refresh(mcp.url);
    await authd.refresh(mcp.url); // the rotated refresh token was kept and still works
    const refreshes = tokenRequests(as, 'refresh_token');
    expect(refreshes.map((r) => r.status)).toEqual([400, 200, 400, 200]);
    expect(refreshes.filter((r) => r.status === 200).every((r) => typeof r.dpop?.nonce === 'string')).toBe(true);
    expect((await authd.getToken(mcp.url)).token_type).toBe('DPoP');
  });

  it("should retry an MCP request once with the resource server's nonce, then keep using it", async () => {
    mcp.clearRequests();
    const client = new Client({ name: 'dpop-nonce-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { fetch: createAuthorizedFetch(mcp.url, { client: authd }) }));
    try {
      expect(await echo(client, 'nonce')).toBe('nonce');
    } finally {
      await client.close();
    }
    const outcomes = mcp.requests().map((r) => r.outcome);
    expect(outcomes[0]).toBe('use_dpop_nonce');
    expect(outcomes.filter((o) => o === 'use_dpop_nonce')).toHaveLength(1); // the nonce is remembered
    expect(outcomes.slice(1).every((o) => o === 'mcp')).toBe(true);
  });

  it("should have the SDK auth provider's fetch send proofs and honour a new nonce", async () => {
    mcp.dpop?.rotateNonce();
    mcp.clearRequests();
    const authProvider = createOAuthClientProvider(mcp.url, { client: authd });
    const client = new Client({ name: 'dpop-provider-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider, fetch: authProvider.fetch }));
    try {
      expect(await echo(client, 'provider')).toBe('provider');
    } finally {
      await client.close();
    }
    const outcomes = mcp.requests().map((r) => r.outcome);
    expect(outcomes[0]).toBe('use_dpop_nonce');
    expect(outcomes.slice(1).every((o) => o === 'mcp')).toBe(true);
    expect(mcp.requests().every((r) => r.scheme === 'dpop')).toBe(true);
  });

  it('should have the Python client send proofs and retry once on use_dpop_nonce; its --header refuses', async () => {
    mcp.dpop?.rotateNonce(); // a nonce the client has not seen yet
    mcp.clearRequests();
    const run = await runProcess('python3', ['-c', PYTHON_SCRIPT, mcp.url, home.paths.socket], { env: { ...process.env, PYTHONPATH: PYTHON_CLIENT_DIR } });
    recordOutput('python dpop client', run.stdout + run.stderr);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual(['200', '200']);
    expect(mcp.requests().map((r) => r.outcome)).toEqual(['use_dpop_nonce', 'mcp', 'mcp']);
    expect(mcp.requests().every((r) => r.scheme === 'dpop')).toBe(true);

    const header = await runProcess('python3', [`${PYTHON_CLIENT_DIR}mcpauthd_client.py`, '--socket', home.paths.socket, 'token', '--header', mcp.url]);
    recordOutput('python dpop --header', header.stdout + header.stderr);
    expect(header.status).toBe(2);
    expect(header.stdout).toBe('');
    expect(header.stderr).toMatch(/DPoP-bound.*mcpauthd proxy/);
  });
});
