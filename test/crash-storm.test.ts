/**
 * Crash consistency under a refresh storm: 200 real credentials (each its own
 * oidc-provider grant with a rotating refresh token), refreshed by the daemon
 * as a child process on the real clock, SIGKILLed at seeded random moments at
 * least 20 times. After every kill the database must pass integrity_check and
 * every stored access token must be for its own resource; at the end every
 * credential is valid, or needs a login only because a kill cut its refresh
 * between the authorization server's answer and our commit (it was seen
 * `refreshing` right after a kill).
 *
 * The credentials are real: each was obtained by the daemon's own login (PRM
 * discovery, DCR once per issuer, PKCE, the scripted browser approving at
 * oidc-provider, the code exchange). Three resources are real MCP SDK servers,
 * whose tokens are checked against them at the end; the other 197 are
 * resources published by one small PRM-only server (one port, many paths), so
 * logging in is cheap.
 *
 * Each kill falls a random moment after a refresh completed in that life, so
 * kills land in refreshes (this absorbed the former refresh-crash test).
 *
 * CRASH_SEED replays the kill schedule (the clock is real, so timings vary).
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
import { json, startTinyServer, type TinyServer } from './daemon/support/tiny-http.js';
import { startDaemonProcess } from './helpers/daemon-process.js';
import { recordOutput } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { seededRandom } from './helpers/seeded-random.js';
import { openRawCredentialRows } from './helpers/sealed-store.js';
import type { Paths } from '../shared/paths.js';

const CREDENTIALS = 200;
const REAL_MCP_SERVERS = 3;
const KILLS = 20;
const TOKEN_TTL_SEC = 5;
const LOGIN_CONCURRENCY = 6;
const SEED = process.env['CRASH_SEED'] !== undefined && process.env['CRASH_SEED'] !== '' ? Number(process.env['CRASH_SEED']) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Row {
  resource_key: string;
  resource: string;
  access_token: string;
  state: string;
  last_error: string | null;
}

/** Opens the database as it was left, checks it, and reads every credential (tokens opened with the key file). */
function inspect(paths: Paths): { integrity: unknown; rows: Row[] } {
  const db = new Database(paths.database, { readonly: true });
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }),
      rows: openRawCredentialRows(paths, db.prepare('SELECT resource_key, resource, access_token, state, last_error FROM credentials').all() as Row[]),
    };
  } finally {
    db.close();
  }
}

/** The resource a stored access token was issued for must be the credential's own. */
function wrongAudience(rows: Row[]): string[] {
  return rows.filter((row) => decodeJwtPayload(row.access_token)?.['aud'] !== row.resource).map((row) => row.resource);
}

describe('crash storm: SIGKILL during a refresh storm (real process, real clock)', () => {
  let as: AuthServer;
  let prm: TinyServer;
  const mcpServers: McpTestServer[] = [];
  const resources: string[] = [];
  let home: TempHome;
  let loginMs = 0;

  beforeAll(async () => {
    as = await startAuthServer({ accessTokenTtlSec: TOKEN_TTL_SEC });
    for (let i = 0; i < REAL_MCP_SERVERS; i++) {
      const server = await startMcpServer({ authServer: as, resourcePath: `/real${i}` });
      mcpServers.push(server);
      resources.push(server.url);
    }
    // One port, many protected resources: a 401 challenge and RFC 9728 metadata per path.
    prm = await startTinyServer();
    for (let i = resources.length; i < CREDENTIALS; i++) {
      const path = `/mcp${i}`;
      const resource = `${prm.origin}${path}`;
      resources.push(resource);
      prm.route(path, (_req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${prm.origin}/.well-known/oauth-protected-resource${path}", scope="mcp:tools"` }).end();
      });
      prm.route(`/.well-known/oauth-protected-resource${path}`, (_req, res) =>
        json(res, 200, { resource, authorization_servers: [as.issuer], scopes_supported: ['mcp:tools'] }),
      );
    }

    home = makeTempHome();
    // Every credential through the daemon's own login, in-process for speed, then handed over.
    const started = performance.now();
    const daemon = await startDaemon({ paths: home.paths, logger: createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) }) });
    try {
      let next = 0;
      const loginWorker = async (): Promise<void> => {
        const client = new McpAuthdClient({ socket: home.paths.socket });
        try {
          for (let i = next++; i < resources.length; i = next++) {
            const browsers: Promise<unknown>[] = [];
            await client.login({ server_url: resources[i] as string, insecure_loopback: true }, (p) => {
              if (p.stage === 'authorize_url' && p.authorize_url !== undefined) browsers.push(completeLogin(p.authorize_url));
            });
            await Promise.all(browsers);
          }
        } finally {
          client.close();
        }
      };
      await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, loginWorker));
    } finally {
      await daemon.close();
    }
    loginMs = Math.round(performance.now() - started);
  }, 90_000);

  afterAll(async () => {
    for (const server of mcpServers) await server.stop();
    await prm?.stop();
    await as?.stop();
    home?.remove();
  });

  it(`should keep the database intact through ${KILLS} SIGKILLs and lose only credentials whose refresh a kill cut`, async () => {
    const random = seededRandom(SEED);
    process.stdout.write(`crash-storm: seed ${SEED} (replay: CRASH_SEED=${SEED}); ${CREDENTIALS} credentials logged in in ${loginMs} ms\n`);
    const before = inspect(home.paths);
    expect(before.rows).toHaveLength(CREDENTIALS);
    expect(new Set(before.rows.map((r) => r.state))).toEqual(new Set(['valid']));
    expect(wrongAudience(before.rows)).toEqual([]);

    const cutMidRefresh = new Set<string>();
    let servedChecks = 0;
    const stormStarted = performance.now();
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const running = await startDaemonProcess(home.env);
        // While it lives, a client asks for tokens of random credentials: each must be for its own resource.
        const client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 2000 });
        // Kills aim at refreshes: each comes a random moment after this life's first completed refresh
        // (the window between the server's answer and our commit is the one that can lose a grant).
        const refreshed = new Promise<void>((resolve) => void client.subscribe(() => resolve()));
        let alive = true;
        const asking = (async () => {
          while (alive) {
            const resource = resources[Math.floor(random() * resources.length)] as string;
            let served: { access_token: string; resource: string } | undefined;
            try {
              served = await client.getToken(resource);
            } catch (err) {
              // needs_login, or the kill landing mid-request, are expected; any other error is not.
              const code = (err as { code?: string }).code;
              if (alive && code !== 'needs_login' && code !== 'refresh_failed' && code !== 'expired' && code !== 'DAEMON_UNAVAILABLE' && code !== 'DAEMON_TIMEOUT') throw err;
            }
            // Outside the try: a wrong token fails the test even when it arrives as the kill lands.
            if (served !== undefined) {
              expect(served.resource).toBe(resource);
              expect(decodeJwtPayload(served.access_token)?.['aud']).toBe(resource);
              servedChecks += 1;
            }
            await sleep(20);
          }
        })();
        await refreshed;
        await sleep(Math.floor(random() * 1200));
        alive = false;
        await running.stop('SIGKILL');
        client.close();
        await asking;

        const after = inspect(home.paths);
        expect(after.integrity).toBe('ok');
        expect(after.rows).toHaveLength(CREDENTIALS);
        expect(wrongAudience(after.rows)).toEqual([]);
        for (const row of after.rows) if (row.state === 'refreshing') cutMidRefresh.add(row.resource);
      }
    } finally {
      recordOutput('crash-storm kills', `${cutMidRefresh.size} credentials seen mid-refresh`);
    }
    const stormMs = Math.round(performance.now() - stormStarted);
    // The storm served tokens while it raged, not only errors.
    expect(servedChecks).toBeGreaterThan(0);

    // A clean run: let every credential settle, then read it back. Settled is
    // valid, needs_login, or kept with an unknown outcome: a kill cut its
    // refresh after the request went out, so the daemon presents that refresh
    // token again only once the access token has expired (issue 12 item 1);
    // such a credential is kept, not lost.
    // From the database: `status` cannot carry 200 credentials in one 64 KiB frame.
    const running = await startDaemonProcess(home.env);
    const client = new McpAuthdClient({ socket: home.paths.socket });
    try {
      const deadline = Date.now() + 20_000;
      let rows = inspect(home.paths).rows;
      const unknownOutcome = (r: (typeof rows)[number]) => r.state === 'error' && (r.last_error ?? '').startsWith('outcome unknown');
      const settled = () => rows.every((r) => r.state === 'valid' || r.state === 'needs_login' || unknownOutcome(r));
      while (!settled() && Date.now() < deadline) {
        await sleep(250);
        rows = inspect(home.paths).rows;
      }
      const states = rows.map((r) => r.state);
      const valid = states.filter((s) => s === 'valid').length;
      const lost = rows.filter((r) => r.state === 'needs_login');
      const kept = rows.filter(unknownOutcome);
      const reasons = new Map<string, number>();
      for (const row of lost) {
        const reason = (row.last_error ?? 'none').replace(/https?:\/\/\S+/g, '<url>').slice(0, 120);
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      recordOutput('crash-storm reasons', [...reasons.keys()].join('\n'));
      const refreshes = as.requests('token').filter((r) => r.grantType === 'refresh_token');
      const rotated = refreshes.filter((r) => r.status === 200).length;
      process.stdout.write(
        `crash-storm: seed ${SEED}: ${KILLS} SIGKILLs in ${stormMs} ms, ${refreshes.length} refresh requests reached the AS (${rotated} rotated), ` +
          `${servedChecks} tokens served and checked, ${cutMidRefresh.size} credentials seen mid-refresh after a kill; ` +
          `end: ${valid} valid, ${kept.length} kept with an unknown outcome, ${lost.length} needs_login of ${CREDENTIALS}` +
          (lost.length > 0 ? `; why: ${[...reasons].map(([r, n]) => `${n}x "${r}"`).join(', ')}` : '') +
          '\n',
      );
      expect(as.serverErrors()).toEqual([]);
      expect(states).toHaveLength(CREDENTIALS);
      expect(valid + kept.length + lost.length).toBe(CREDENTIALS);
      // An unknown outcome only where a kill cut that credential's refresh.
      for (const row of kept) expect(cutMidRefresh.has(row.resource)).toBe(true);
      // The storm did refresh: every credential's token is newer than its login's.
      expect(rotated).toBeGreaterThanOrEqual(CREDENTIALS);
      for (const row of lost) {
        // Lost only where a kill fell between the AS rotating the refresh token and our commit:
        // the restarted daemon presented the old one, and the AS said invalid_grant.
        expect(row.last_error).toMatch(/invalid_grant/);
        expect(cutMidRefresh.has(row.resource)).toBe(true);
      }
      expect(wrongAudience(inspect(home.paths).rows)).toEqual([]);

      // The valid ones serve tokens their own servers accept.
      for (const server of mcpServers) {
        if (rows.find((r) => r.resource === server.url)?.state !== 'valid') continue;
        const { access_token } = await client.getToken(server.url);
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
        });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      }
    } finally {
      client.close();
      await running.stop();
    }
  }, 120_000);
});
