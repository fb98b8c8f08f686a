/**
 * Issue 13 item 7: a secret the daemon no longer holds must not stay on disk
 * in the database, its `-wal` or its `-shm`. A real login against oidc-provider
 * (rotating refresh tokens), three rotations, a logout and a shutdown; after
 * each step every secret the authorization server ever issued that the store
 * no longer holds is searched for, byte for byte, in those three files.
 *
 * What this shows: SQLite's own files. It does not show anything about the
 * file system underneath (a truncated WAL's old blocks are freed, not
 * overwritten) or about swap; docs/security.md says so.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { McpAuthdClient } from '../client/index.js';
import { startDaemon, type DaemonHandle } from '../daemon/daemon.js';
import { createLogger } from '../daemon/os/logger.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { completeLogin } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { outputStream } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

/** A secret is never printed by a test: only its fingerprint. */
const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('hex').slice(0, 12);

/** Where each of `secrets` occurs in the database files, as "file: fingerprint". */
function foundOnDisk(database: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of [database, `${database}-wal`, `${database}-shm`]) {
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    for (const secret of secrets) if (bytes.includes(secret)) found.push(`${file.slice(database.length) || 'db'}: ${fingerprint(secret)}`);
  }
  return found;
}

describe('retired secrets on disk (issue 13 item 7)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonHandle;
  let client: McpAuthdClient;

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    home = makeTempHome();
    const ledger = outputStream('retired-secrets daemon log');
    daemon = await startDaemon({
      paths: home.paths,
      logger: createLogger({ level: 'debug', stream: new Writable({ write: (c: Buffer, _e, cb) => (ledger(c.toString('utf8')), cb()) }) }),
    });
    client = new McpAuthdClient({ socket: home.paths.socket });
  });
  afterAll(async () => {
    client.close();
    await daemon.close();
    await mcp.stop();
    await as.stop();
    home.remove();
  });

  /** Secrets the store still holds: the credential's tokens and the client registration's. */
  function liveSecrets(): Set<string> {
    const live = new Set<string>();
    for (const record of daemon.store.list()) {
      live.add(record.accessToken.reveal());
      if (record.refreshToken !== null) live.add(record.refreshToken.reveal());
    }
    const registration = daemon.store.getClientRegistration(as.issuer);
    if (registration?.clientSecret) live.add(registration.clientSecret.reveal());
    if (registration?.registrationAccessToken) live.add(registration.registrationAccessToken.reveal());
    return live;
  }
  const retired = (live: Set<string>): string[] => as.issuedSecrets().filter((s) => !live.has(s));

  it('holds no retired token after rotations, after logout and after shutdown', async () => {
    await client.login({ server_url: mcp.url, insecure_loopback: true }, (p) => {
      if (p.stage === 'authorize_url' && p.authorize_url !== undefined) void completeLogin(p.authorize_url);
    });
    const firstAccess = (await client.getToken(mcp.url)).access_token;
    for (let i = 0; i < 3; i++) await client.refresh(mcp.url);
    expect((await client.getToken(mcp.url)).access_token).not.toBe(firstAccess);

    // The search can find what is there: the live access token's sealed form is on disk;
    // the token itself is not, sealed at rest (issue 17).
    const live = liveSecrets();
    const current = daemon.store.list()[0]?.accessToken.reveal() ?? '';
    const raw = new Database(home.paths.database, { readonly: true });
    const sealedForm = raw.prepare('SELECT access_token FROM credentials').pluck().get() as string;
    raw.close();
    expect(foundOnDisk(home.paths.database, [sealedForm])).not.toEqual([]);
    expect(foundOnDisk(home.paths.database, [current])).toEqual([]);
    // At least: the first access and refresh tokens, the code, the two rotated pairs.
    expect(retired(live).length).toBeGreaterThanOrEqual(7);
    expect({ after: 'rotation', found: foundOnDisk(home.paths.database, retired(live)) }).toEqual({ after: 'rotation', found: [] });

    await client.logout(mcp.url);
    const afterLogout = liveSecrets();
    expect(daemon.store.list()).toEqual([]);
    expect({ after: 'logout', found: foundOnDisk(home.paths.database, retired(afterLogout)) }).toEqual({ after: 'logout', found: [] });

    client.close();
    await daemon.close();
    expect({ after: 'shutdown', found: foundOnDisk(home.paths.database, retired(afterLogout)) }).toEqual({ after: 'shutdown', found: [] });
  });
});
