/**
 * The daemon as a real process on the real clock (croner), refreshing
 * 2-second tokens from oidc-provider, killed with SIGKILL at seeded random
 * moments. After every kill the database must pass integrity_check; at the
 * end every credential must be valid, or needs_login only where a kill fell
 * between the server's answer and our commit, and every served token must be
 * for its own resource.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { Writable } from 'node:stream';
import { McpAuthdClient } from '../client/index.js';
import { startDaemon } from '../daemon/daemon.js';
import { createLogger } from '../daemon/os/logger.js';
import { decodeJwtPayload } from '../daemon/oauth/token-response.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { completeLogin } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { seededRandom } from './helpers/seeded-random.js';

const CREDENTIALS = 6;
const KILLS = 8;
const SEED = 20261126;


describe('refresh under SIGKILL (real process, real clock)', () => {
  let as: AuthServer;
  const servers: McpTestServer[] = [];
  let home: TempHome;

  beforeAll(async () => {
    as = await startAuthServer({ accessTokenTtlSec: 2 });
    for (let i = 0; i < CREDENTIALS; i++) servers.push(await startMcpServer({ authServer: as, resourcePath: `/mcp${i}` }));
    home = makeTempHome();
    // Log in through an in-process daemon on the same state directory, then hand it over.
    const daemon = await startDaemon({ paths: home.paths, logger: createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) }) });
    const client = new McpAuthdClient({ socket: home.paths.socket });
    for (const server of servers) {
      await client.login({ server_url: server.url, insecure_loopback: true }, (p) => {
        if (p.stage === 'authorize_url' && p.authorize_url !== undefined) void completeLogin(p.authorize_url);
      });
    }
    client.close();
    await daemon.close();
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await as.stop();
    home.remove();
  });

  it('should keep the database intact and every credential valid or needs_login, never crossed', async () => {
    const random = seededRandom(SEED);
    let running: DaemonProcess | undefined;
    for (let kill = 0; kill < KILLS; kill++) {
      running = await startDaemonProcess(home.env);
      // Wait for at least one refresh to be under way or done, then kill at a random moment.
      const client = new McpAuthdClient({ socket: home.paths.socket });
      const refreshed = new Promise<void>((resolve) => void client.subscribe(() => resolve()));
      await refreshed;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 700)));
      client.close();
      await running.stop('SIGKILL');
      const db = new Database(home.paths.database, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    }

    // A final, clean run: let every credential refresh at least once more.
    running = await startDaemonProcess(home.env);
    const client = new McpAuthdClient({ socket: home.paths.socket });
    try {
      const deadline = Date.now() + 15_000;
      let status = await client.status();
      const settled = () => status.credentials.every((c) => c.state === 'valid' || c.state === 'needs_login');
      while (!settled() && Date.now() < deadline) {
        await new Promise<void>((resolve) => void client.subscribe(() => resolve()));
        status = await client.status();
      }
      const states = status.credentials.map((c) => c.state);
      const valid = states.filter((s) => s === 'valid').length;
      const needsLogin = states.filter((s) => s === 'needs_login').length;
      process.stdout.write(`refresh-crash: ${KILLS} SIGKILLs (seed ${SEED}): ${valid} valid, ${needsLogin} needs_login of ${CREDENTIALS}\n`);
      expect(states).toHaveLength(CREDENTIALS);
      expect(valid + needsLogin).toBe(CREDENTIALS);
      for (const c of status.credentials) {
        if (c.state === 'needs_login') expect(c.last_error).toMatch(/invalid_grant/);
      }
      // Never another server's token: each valid credential serves a token for exactly its resource.
      for (const server of servers) {
        const summary = status.credentials.find((c) => c.resource === server.url);
        if (summary?.state !== 'valid') continue;
        const { access_token } = await client.getToken(server.url);
        expect(decodeJwtPayload(access_token)?.['aud']).toBe(server.url);
      }
      for (const secret of as.issuedSecrets()) expect(running.stderr()).not.toContain(secret);
    } finally {
      client.close();
      await running.stop();
    }
  }, 90_000);
});
