/**
 * Issue 17, encrypted at rest, as a user checks it: a real `mcpauthd daemon`
 * process logs in against oidc-provider, refreshes, and shuts down; then the
 * raw bytes of the database, its -wal and -shm hold none of the secrets the
 * authorization server issued (nor any other secret in the run's ledger),
 * while the store, opened with its key, still has the credential. The daemon
 * names its key provider in `status` and `doctor`; started again without its
 * key it refuses with the fix and changes nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../client/index.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { completeLogin } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { runCliAsync, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { openSealedStore } from './helpers/sealed-store.js';
import { LEDGER_ENV, recordSecret } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

/** A secret is never printed by a test: only its fingerprint. */
const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('hex').slice(0, 12);

/** Every secret the run's ledger holds so far (this file's authorization server and every other test's). */
function ledgerSecrets(): string[] {
  const dir = process.env[LEDGER_ENV];
  if (dir === undefined || dir === '') return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith('secrets-'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((s) => s.length >= 12);
}

function foundOnDisk(database: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of [database, `${database}-wal`, `${database}-shm`]) {
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    for (const secret of secrets) if (bytes.includes(secret)) found.push(`${file.slice(database.length) || 'db'}: ${fingerprint(secret)}`);
  }
  return found;
}

function databaseFiles(database: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of [database, `${database}-wal`, `${database}-shm`]) {
    if (existsSync(file)) out[file] = createHash('sha256').update(readFileSync(file)).digest('hex');
  }
  return out;
}

describe('encrypted at rest: a real daemon process (issue 17)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  let home: TempHome;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    home = makeTempHome();
  });
  afterAll(async () => {
    if (daemon !== undefined && daemon.child.exitCode === null) await daemon.stop();
    await mcp.stop();
    await as.stop();
    home.remove();
  });

  it('leaves no issued secret in the database, -wal or -shm after login, refresh and shutdown, and names its key provider', async () => {
    daemon = await startDaemonProcess(home.env);
    // A new secret kind: the database key itself must never appear in any output either.
    recordSecret(readFileSync(home.paths.keyFile, 'utf8').trim());
    const client = new McpAuthdClient({ socket: home.paths.socket });
    try {
      await client.login({ server_url: mcp.url, insecure_loopback: true }, (p) => {
        if (p.stage === 'authorize_url' && p.authorize_url !== undefined) void completeLogin(p.authorize_url);
      });
      for (let i = 0; i < 2; i++) await client.refresh(mcp.url);
      const status = await client.status();
      expect(status.daemon.encryption).toEqual({ provider: 'key_file', location: home.paths.keyFile });
      // While it runs, too: nothing issued is in the files.
      expect({ running: foundOnDisk(home.paths.database, as.issuedSecrets()) }).toEqual({ running: [] });
    } finally {
      client.close();
    }
    const human = await runCliAsync(['status'], home.env);
    expect(human.stdout).toContain(`secrets   encrypted, key in a key file in the config directory (0600): ${home.paths.keyFile}`);
    const doctor = await runCliAsync(['doctor', '--json'], home.env);
    const encryption = (JSON.parse(doctor.stdout) as { checks: { id: string; status: string; message: string }[] }).checks.find((c) => c.id === 'encryption');
    expect(encryption).toMatchObject({ status: 'ok', message: expect.stringContaining(`a key file in the config directory (0600): ${home.paths.keyFile}`) });
    expect(await daemon.stop()).toBe(0);

    const issued = as.issuedSecrets();
    // A code, two access and refresh tokens per login and refresh, a registration token.
    expect(issued.length).toBeGreaterThanOrEqual(6);
    expect({ afterShutdown: foundOnDisk(home.paths.database, [...new Set([...issued, ...ledgerSecrets()])]) }).toEqual({ afterShutdown: [] });
    // The search is not vacuous: the store, opened with its key, holds the last issued tokens.
    const store = openSealedStore(home.paths);
    try {
      const record = store.findByServerUrl(mcp.url);
      expect(record).toBeDefined();
      expect(issued).toContain(record?.accessToken.reveal());
      expect(issued).toContain(record?.refreshToken?.reveal());
    } finally {
      store.close();
    }
  });

  it('refuses to start without its key, with the fix, creating no new key and changing nothing', async () => {
    const before = databaseFiles(home.paths.database);
    const aside = `${home.paths.keyFile}.aside`;
    renameSync(home.paths.keyFile, aside);
    try {
      await expect(startDaemonProcess(home.env)).rejects.toThrow(
        new RegExp(`mcpauthd: the database ${home.paths.database.replace(/[.]/g, '\\.')} is encrypted with the key file ${home.paths.keyFile.replace(/[.]/g, '\\.')}, which is missing; nothing was changed\\. Fix: restore the key`),
      );
      expect(existsSync(home.paths.keyFile)).toBe(false);
      expect(databaseFiles(home.paths.database)).toEqual(before);
    } finally {
      renameSync(aside, home.paths.keyFile);
    }
  });
});
