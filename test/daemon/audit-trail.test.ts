// The audit trail and the asking (issue 18): refreshes recorded with their
// trigger and the program that caused them, logouts and refusals recorded,
// writes batched and bounded by age and count, and `confirm` refusing when
// nobody can be asked (no helper, no display, no answer in time).
import { afterEach, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpAuthdClient } from '../../client/index.js';
import { createAsker, findHelper, runHelper } from '../../daemon/os/askpass.js';
import { createLogger } from '../../daemon/os/logger.js';
import { generateDpopKey } from '../../daemon/oauth/dpop.js';
import { AuditLog } from '../../daemon/serve/audit.js';
import { AuditTable } from '../../daemon/store/audit-table.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import type { RefreshGrant } from '../../daemon/refresh/token-refresher.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { newCredential } from '../helpers/new-credential.js';
import { recordOutput, recordSecret } from '../helpers/secret-ledger.js';

const URL_A = 'https://a.example.com/mcp';
const quiet = createLogger({ level: 'error' });

describe('audit trail in a daemon', () => {
  let d: TestDaemon | undefined;
  afterEach(async () => {
    if (d !== undefined) recordOutput('audit rows', JSON.stringify(d.daemon.audit.query({ limit: 2000 })));
    await d?.stop();
    d = undefined;
  });

  it('records a refresh with its trigger and the program whose request caused it, a logout, and a refusal; never a token', async () => {
    let n = 0;
    const grant: RefreshGrant = async () => {
      n += 1;
      const access = `audit-trail-access-${n}-9d8c7b6a`;
      const refresh = `audit-trail-refresh-${n}-1a2b3c4d`;
      recordSecret(access);
      recordSecret(refresh);
      return { accessToken: new Secret(access), tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, refreshToken: new Secret(refresh), scopes: ['mcp:tools'] };
    };
    d = await startTestDaemon({ grant });
    recordSecret('audit-trail-first-access-0000');
    recordSecret('audit-trail-first-refresh-0000');
    d.daemon.store.saveCredential(newCredential({ resource: URL_A, serverUrl: URL_A, accessToken: new Secret('audit-trail-first-access-0000'), refreshToken: new Secret('audit-trail-first-refresh-0000'), expiresAt: Date.now() + 30_000, refreshAt: null }));
    const client = new McpAuthdClient({ socket: d.home.paths.socket });
    try {
      await client.getToken(URL_A, { minTtl: 600 }); // 30 s left: refreshed first (trigger min_ttl)
      await client.refresh(URL_A); // forced
      await expect(client.getToken('https://nothing.example.com/mcp')).rejects.toMatchObject({ code: 'not_found' });
      await client.logout(URL_A);
    } finally {
      client.close();
    }
    const { events } = d.daemon.audit.query({ limit: 100 });
    const me = events.find((e) => e.method === 'token.get' && e.outcome === 'ok');
    expect(me?.pid).toBe(process.pid);
    expect(me?.program).toContain(realpathSync(process.execPath));
    const summary = events.map((e) => [e.method, e.detail, e.outcome, e.error_code, e.resource]).reverse();
    expect(summary).toEqual([
      ['refresh', 'min_ttl', 'ok', null, URL_A],
      ['token.get', null, 'ok', null, URL_A],
      ['refresh', 'forced', 'ok', null, URL_A],
      ['token.get', null, 'error', 'not_found', 'https://nothing.example.com/mcp'],
      ['logout', null, 'ok', null, URL_A],
    ]);
    // The refreshes carry the program that caused them, not "the daemon".
    expect(events.filter((e) => e.method === 'refresh').every((e) => e.program === me?.program)).toBe(true);
    expect(JSON.stringify(events)).not.toMatch(/audit-trail-(first-)?(access|refresh)/);
  });

  it('status names the program that used a credential a moment ago, and writes nothing to name it', async () => {
    d = await startTestDaemon();
    d.daemon.store.saveCredential(newCredential({ resource: URL_A, serverUrl: URL_A, expiresAt: Date.now() + 3_600_000, refreshAt: null }));
    const client = new McpAuthdClient({ socket: d.home.paths.socket });
    try {
      await client.getToken(URL_A);
      const table = new AuditTable(d.daemon.store.connection);
      const before = table.count();
      const programs = (await client.status()).credentials[0]?.programs_last_day;
      expect(programs).toEqual([expect.stringContaining(realpathSync(process.execPath))]);
      // The use is still in the batch: status read it there, and left the trail as it was (a status is a read; scripts run it per request).
      expect(table.count()).toBe(before);
    } finally {
      client.close();
    }
  });

  it('confirm with nobody to ask (no helper, no display) refuses with `denied` naming mcpauthd policy allow', async () => {
    d = await startTestDaemon({ ask: createAsker({ env: { PATH: '' } }) });
    d.daemon.store.saveCredential(newCredential({ resource: URL_A, serverUrl: URL_A, expiresAt: Date.now() + 3_600_000 }));
    recordSecret('at-1');
    d.daemon.policy.setMode(d.daemon.store.findByResource(URL_A)!.resourceKey, URL_A, 'confirm');
    const client = new McpAuthdClient({ socket: d.home.paths.socket });
    try {
      const err = await client.getToken(URL_A).then(() => undefined, (e: unknown) => e as { code: string; message: string; data: Record<string, unknown> });
      expect(err?.code).toBe('denied');
      expect(err?.message).toContain('nobody could be asked: the daemon has no display');
      expect(err?.message).toContain(`mcpauthd policy allow ${URL_A} `);
      expect(err?.data['command']).toEqual(expect.stringContaining('mcpauthd policy allow'));
    } finally {
      client.close();
    }
    expect(d.daemon.audit.query({ limit: 10 }).events[0]).toMatchObject({ method: 'token.get', outcome: 'denied', error_code: 'denied' });
  });

  it('dpop.proof passes the same policy and is recorded like token.get (deny refuses it with `denied`)', async () => {
    d = await startTestDaemon();
    const dpopKey = generateDpopKey('ES256');
    recordSecret(dpopKey.reveal());
    recordSecret('at-1');
    d.daemon.store.saveCredential(newCredential({ resource: URL_A, serverUrl: URL_A, expiresAt: Date.now() + 3_600_000, tokenType: 'DPoP', dpopKey }));
    const client = new McpAuthdClient({ socket: d.home.paths.socket });
    try {
      const proof = await client.getDpopProof(URL_A, { htm: 'POST', htu: URL_A });
      recordSecret(proof.proof);
      expect(proof.token_type).toBe('DPoP');
      d.daemon.policy.setMode(d.daemon.store.findByResource(URL_A)!.resourceKey, URL_A, 'deny');
      await expect(client.getDpopProof(URL_A, { htm: 'POST', htu: URL_A })).rejects.toMatchObject({ code: 'denied' });
    } finally {
      client.close();
    }
    const proofs = d.daemon.audit.query({ limit: 10 }).events.filter((e) => e.method === 'dpop.proof').map((e) => [e.outcome, e.resource]);
    expect(proofs).toEqual([['denied', URL_A], ['ok', URL_A]]);
  });

  it('audit off: nothing is recorded and status shows no programs', async () => {
    d = await startTestDaemon({ audit: { enabled: false } });
    d.daemon.store.saveCredential(newCredential({ resource: URL_A, serverUrl: URL_A, expiresAt: Date.now() + 3_600_000 }));
    const client = new McpAuthdClient({ socket: d.home.paths.socket });
    try {
      await client.getToken(URL_A);
      expect((await client.status()).credentials[0]?.programs_last_day).toBeUndefined();
      expect((await client.audit()).events).toEqual([]);
    } finally {
      client.close();
    }
  });
});

describe('AuditLog', () => {
  const open = () => TokenStore.open(':memory:', { inMemory: true });

  it('writes in batches, not per request, folds identical requests into one row with a count, and a read flushes first', () => {
    const store = open();
    const table = new AuditTable(store.connection);
    let now = 1_000;
    const log = new AuditLog({ table, now: () => now, logger: quiet, settings: { flushIntervalMs: 60_000, batchSize: 3 } });
    const callers = [1, 2, 3].map((pid) => ({ program: `/usr/bin/x${pid}`, pid, chain: [{ name: `/usr/bin/x${pid}` }] }));
    const [a, b, c] = callers as [(typeof callers)[0], (typeof callers)[0], (typeof callers)[0]];
    for (let i = 0; i < 5; i++) {
      now += 1;
      log.record({ method: 'token.get', resource: URL_A, subject: a, outcome: 'ok' });
    }
    log.record({ method: 'token.get', resource: URL_A, subject: b, outcome: 'ok' });
    expect(table.count()).toBe(0); // two rows gathered, nothing written yet
    log.record({ method: 'token.get', resource: URL_A, subject: c, outcome: 'denied', errorCode: 'denied' });
    expect(table.count()).toBe(3); // the batch is full: one transaction
    log.record({ method: 'token.get', resource: URL_A, subject: a, outcome: 'ok' });
    const events = log.query({ limit: 10 }).events;
    expect(events.map((e) => [e.program, e.outcome, e.count])).toEqual([
      ['/usr/bin/x1', 'ok', 1],
      ['/usr/bin/x3', 'denied', 1],
      ['/usr/bin/x2', 'ok', 1],
      ['/usr/bin/x1', 'ok', 5],
    ]);
    expect(events[3]).toMatchObject({ at: 1_001, last_at: 1_005, chain: ['/usr/bin/x1'], pid: 1 });
    log.close();
    store.close();
  });

  it('names the programs that used a resource since a time: from the batch before it is written, from the table after, plain uses only', () => {
    const store = open();
    const table = new AuditTable(store.connection);
    let now = 10_000;
    const log = new AuditLog({ table, now: () => now, logger: quiet, settings: { flushIntervalMs: 60_000 } });
    const who = (name: string, pid: number) => ({ program: name, pid, chain: [] });
    log.record({ method: 'token.get', resource: URL_A, subject: who('/usr/bin/old', 1), outcome: 'ok' });
    now = 20_000;
    log.record({ method: 'dpop.proof', resource: URL_A, subject: who('/usr/bin/dpop', 2), outcome: 'ok' });
    log.record({ method: 'token.get', resource: URL_A, subject: who('/usr/bin/refused', 3), outcome: 'denied', errorCode: 'denied' });
    log.record({ method: 'refresh', resource: URL_A, subject: who('/usr/bin/refresher', 4), outcome: 'ok' });
    log.record({ method: 'token.get', resource: 'https://b.example.com/mcp', subject: who('/usr/bin/other', 5), outcome: 'ok' });
    expect(log.programsSince(URL_A, 0)).toEqual(['/usr/bin/dpop', '/usr/bin/old']);
    expect(log.programsSince(URL_A, 15_000)).toEqual(['/usr/bin/dpop']);
    expect(table.count()).toBe(0); // read from the batch: nothing written for it
    // A repeat moves a row's last use: /usr/bin/old is recent again, in the same batch.
    now = 30_000;
    log.record({ method: 'token.get', resource: URL_A, subject: who('/usr/bin/old', 1), outcome: 'ok' });
    expect(log.programsSince(URL_A, 25_000)).toEqual(['/usr/bin/old']);
    log.flush();
    expect(table.count()).toBe(5);
    expect(log.programsSince(URL_A, 0)).toEqual(['/usr/bin/dpop', '/usr/bin/old']);
    expect(log.programsSince(URL_A, 25_000)).toEqual(['/usr/bin/old']);
    // Later batches and the table together; an old use is pruned with the events of its age.
    now = 40_000;
    log.record({ method: 'token.get', resource: URL_A, subject: who('/usr/bin/new', 6), outcome: 'ok' });
    expect(log.programsSince(URL_A, 0)).toEqual(['/usr/bin/dpop', '/usr/bin/new', '/usr/bin/old']);
    log.flush();
    expect(table.prune(25_000, 1_000)).toBe(5); // the first batch's five events; /usr/bin/old's last use (30 s) stays
    expect(log.programsSince(URL_A, 0)).toEqual(['/usr/bin/new', '/usr/bin/old']);
    log.close();
    store.close();
  });

  it('writes a program\'s last use of a resource at most once a minute, so the programs of a day are right to the minute', () => {
    const store = open();
    const table = new AuditTable(store.connection);
    let now = 0;
    const log = new AuditLog({ table, now: () => now, logger: quiet, settings: { flushIntervalMs: 60_000 } });
    const subject = { program: '/usr/bin/agent', pid: 1, chain: [] };
    const useAt = (t: number) => {
      now = t;
      log.record({ method: 'token.get', resource: URL_A, subject, outcome: 'ok' });
      log.flush();
    };
    const uses = () => store.connection.prepare('SELECT last_at FROM audit_program_uses').all();
    useAt(1_000);
    useAt(31_000); // within the minute: the event is written, its last use is not
    expect(table.count()).toBe(2);
    expect(uses()).toEqual([{ last_at: 1_000 }]);
    useAt(61_000); // a minute after the last one written: written
    expect(uses()).toEqual([{ last_at: 61_000 }]);
    expect(table.programsSince(URL_A, 60_000)).toEqual(['/usr/bin/agent']);
    log.close();
    store.close();
  });

  it('is bounded by count and by age', () => {
    const store = open();
    const table = new AuditTable(store.connection);
    let now = 0;
    const log = new AuditLog({ table, now: () => now, logger: quiet, settings: { maxRows: 5, maxAgeMs: 1_000 } });
    const subject = { program: '/usr/bin/x', pid: 7, chain: [] };
    for (let i = 0; i < 12; i++) {
      now = i * 10;
      log.record({ method: 'token.get', resource: URL_A, subject, outcome: 'ok' });
      log.flush(); // one row per write
    }
    log.pruneNow();
    expect(log.query({ limit: 100 }).events.map((e) => e.at)).toEqual([110, 100, 90, 80, 70]);
    now = 1_095; // 80, 90 are now older than 1 s
    log.pruneNow();
    expect(log.query({ limit: 100 }).events.map((e) => e.at)).toEqual([110, 100]);
    log.close();
    store.close();
  });
});

describe('askpass', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const helperScript = (body: string): string => {
    dir = mkdtempSync(join(tmpdir(), 'mcpauthd-askpass-'));
    const path = join(dir, 'askpass');
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o700);
    return path;
  };
  const question = { program: '/usr/bin/x', pid: 1, resource: URL_A, serverUrl: URL_A };

  it('finds no helper without MCPAUTHD_ASKPASS and without a display, and says so', () => {
    expect(findHelper({ PATH: '/usr/bin:/bin' }, 'linux')).toEqual({ none: expect.stringContaining('no display') });
    expect(findHelper({ MCPAUTHD_ASKPASS: '/nonexistent/askpass' }, 'linux')).toEqual({ none: expect.stringContaining('not an executable file') });
  });

  it('a helper that does not answer in time is a refusal, and it is stopped', async () => {
    const path = helperScript('exec sleep 30');
    const helper = findHelper({ MCPAUTHD_ASKPASS: path }, 'linux');
    if ('none' in helper) throw new Error(helper.none);
    const started = Date.now();
    expect(await runHelper(helper, 'q?', {}, 300)).toMatchObject({ answer: 'no_answer', timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('follows ssh-askpass: exit 0 with nothing or "yes" on stdout is yes; anything else no', async () => {
    for (const [body, answer] of [['exit 0', 'yes'], ['echo yes', 'yes'], ['echo no', 'no'], ['exit 1', 'no']] as const) {
      const ask = createAsker({ env: { MCPAUTHD_ASKPASS: helperScript(body) } });
      expect((await ask(question)).answer).toBe(answer);
      rmSync(dir!, { recursive: true, force: true });
    }
  });
});
