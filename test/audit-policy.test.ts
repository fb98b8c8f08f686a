/**
 * Issue 18 with real processes: a node script and a python3 script ask a real
 * daemon (a child process, from dist/) for the same resource; the audit trail
 * names each by executable and script; `confirm` asks a scripted askpass
 * (MCPAUTHD_ASKPASS) that approves one and refuses the other; `deny` refuses
 * without asking; the proxy a parent program starts is attributed to that
 * parent and turns `denied` into an MCP error. The secret ledger sees the
 * audit table and every `mcpauthd audit` output.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory } from '../daemon/os/private-path.js';
import { Secret } from '../daemon/store/secret.js';
import { TokenStore } from '../daemon/store/token-store.js';
import type { StatusResult } from '../shared/protocol/types.js';
import type { AuditEvent, AuditListResult, PolicyShowResult } from '../shared/protocol/audit-policy-types.js';
import { REPO_ROOT, runCli, startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { recordOutput, recordSecret } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

const URL_A = 'https://a.example.com/mcp';
const ACCESS = 'audit-test-access-token-7f3a9c1d2e';
const REFRESH = 'audit-test-refresh-token-5b8e0f4a6c';
const python = spawnSync('python3', ['-c', 'import os,sys; print(os.path.realpath(sys.executable))'], { encoding: 'utf8' });
const PYTHON = python.status === 0 ? python.stdout.trim() : undefined;
const NODE = realpathSync(process.execPath);

interface Asked {
  ok: boolean;
  code?: string;
  message?: string;
}

(process.platform === 'linux' && PYTHON !== undefined ? describe : describe.skip)('audit and policy with real programs (Linux with python3; skipped elsewhere)', () => {
  let home: TempHome;
  let daemon: DaemonProcess;
  let dir: string;
  let askLog: string;
  const env = (): NodeJS.ProcessEnv => home.env;
  const script = (name: string) => join(dir, name);

  /** Runs one of the asking scripts and returns what it printed (never the token: the scripts print only whether they got one). */
  const ask = (command: string, name: string): Asked => {
    const run = spawnSync(command, [script(name), URL_A], { env: env(), encoding: 'utf8', timeout: 20_000 });
    recordOutput(`${name} stdout`, run.stdout);
    recordOutput(`${name} stderr`, run.stderr);
    expect(run.status).toBe(0);
    return JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as Asked;
  };
  const audit = (...args: string[]): AuditListResult => {
    const run = runCli(['audit', '--json', ...args], env());
    expect(run.status).toBe(0);
    return JSON.parse(run.stdout) as AuditListResult;
  };
  const cli = (...args: string[]) => {
    const run = runCli(args, env());
    expect({ args, status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
    return run.stdout;
  };
  const asked = () => readFileSync(askLog, 'utf8').split('\n').filter((l) => l !== '');
  const nodeProgram = () => `${NODE} ${script('ask.js')}`;
  const pythonProgram = () => `${PYTHON} ${script('ask.py')}`;

  beforeAll(async () => {
    home = makeTempHome();
    dir = realpathSync(home.root);
    process.umask(0o077);
    ensurePrivateDirectory(home.paths.home);
    recordSecret(ACCESS);
    recordSecret(REFRESH);
    const store = TokenStore.open(home.paths.database);
    store.saveCredential({
      issuer: 'https://as.example.com', clientId: 'c1', tokenType: 'Bearer', refreshAt: null, resource: URL_A, serverUrl: URL_A,
      scopes: ['mcp:tools'], accessToken: new Secret(ACCESS), refreshToken: new Secret(REFRESH), expiresAt: Date.now() + 3_600_000,
    });
    store.close();
    writeFileSync(
      script('ask.js'),
      `import { McpAuthdClient } from ${JSON.stringify(join(REPO_ROOT, 'dist', 'client', 'index.js'))};
const client = new McpAuthdClient();
try { const t = await client.getToken(process.argv[2]); console.log(JSON.stringify({ ok: typeof t.access_token === 'string' })); }
catch (err) { console.log(JSON.stringify({ ok: false, code: err.code, message: err.message })); }
finally { client.close(); }
`,
    );
    writeFileSync(script('package.json'), '{"type":"module"}\n');
    writeFileSync(
      script('ask.py'),
      `import json, sys
sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'client', 'python'))})
from mcpauthd_client import McpAuthdClient, McpAuthdError
try:
    with McpAuthdClient() as c:
        t = c.get_token(sys.argv[1])
        print(json.dumps({"ok": isinstance(t.get("access_token"), str)}))
except McpAuthdError as e:
    print(json.dumps({"ok": False, "code": e.code, "message": str(e)}))
`,
    );
    // The MCP client stand-in: starts "mcpauthd proxy" and sends it one request.
    writeFileSync(
      script('parent.py'),
      `import json, subprocess, sys
p = subprocess.Popen([sys.argv[1], sys.argv[2], "proxy", sys.argv[3], "--no-browser"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}) + "\\n").encode())
p.stdin.flush()
print(p.stdout.readline().decode().strip(), flush=True)
p.stdin.close()
p.wait()
`,
    );
    askLog = script('asked.log');
    writeFileSync(askLog, '');
    // The scripted askpass: logs each question, says yes only to the node script.
    writeFileSync(
      script('askpass.sh'),
      `#!/bin/sh
printf '%s|%s\\n' "$SSH_ASKPASS_PROMPT" "$1" >> ${JSON.stringify(askLog)}
case "$1" in *ask.js*) exit 0 ;; *) exit 1 ;; esac
`,
    );
    chmodSync(script('askpass.sh'), 0o700);
    home.env = { ...home.env, MCPAUTHD_ASKPASS: script('askpass.sh') };
    daemon = await startDaemonProcess(env());
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    // Everything the audit table holds, for the ledger's scan.
    const db = new Database(home.paths.database, { readonly: true });
    recordOutput('audit_events table', JSON.stringify(db.prepare('SELECT * FROM audit_events').all()));
    recordOutput('policy tables', JSON.stringify([db.prepare('SELECT * FROM resource_policies').all(), db.prepare('SELECT * FROM program_approvals').all()]));
    db.close();
    home?.remove();
  });

  it('names each program by executable and script, in audit --json, the table, and status', () => {
    expect(ask(process.execPath, 'ask.js')).toEqual({ ok: true });
    expect(ask('python3', 'ask.py')).toEqual({ ok: true });
    const events = audit('--resource', URL_A).events.filter((e) => e.method === 'token.get');
    const byProgram = new Map(events.map((e) => [e.program, e]));
    expect(byProgram.get(nodeProgram())).toMatchObject({ outcome: 'ok', resource: URL_A, error_code: null });
    // The chain starts at the peer and goes up through its parents (here this jest worker, itself node).
    expect(byProgram.get(nodeProgram())?.chain.slice(0, 2)).toEqual([nodeProgram(), expect.stringMatching(/node/)]);
    expect(byProgram.get(pythonProgram())).toMatchObject({ outcome: 'ok', resource: URL_A });
    expect(byProgram.get(pythonProgram())?.pid).toEqual(expect.any(Number));
    const table = cli('audit', '--since', '1h');
    expect(table).toMatch(/^TIME\s+WHAT\s+RESOURCE\s+PID\s+PROGRAM/);
    expect(table).toContain(nodeProgram());
    expect(table).toContain(pythonProgram());
    const status = JSON.parse(cli('status', '--json')) as StatusResult;
    expect(status.credentials[0]?.programs_last_day).toEqual(expect.arrayContaining([nodeProgram(), pythonProgram()]));
    expect(cli('status')).toContain(pythonProgram());
    expect(audit('--program', pythonProgram()).events.every((e: AuditEvent) => e.program === pythonProgram())).toBe(true);
  });

  it('confirm: asks through MCPAUTHD_ASKPASS, serves the approved program, refuses the other with `denied` naming the fix', () => {
    cli('policy', 'set', URL_A, 'confirm');
    expect(ask(process.execPath, 'ask.js')).toEqual({ ok: true });
    const refused = ask('python3', 'ask.py');
    expect(refused).toMatchObject({ ok: false, code: 'denied' });
    expect(refused.message).toContain(`mcpauthd policy allow ${URL_A} '${pythonProgram()}'`);
    const questions = asked();
    expect(questions).toHaveLength(2);
    expect(questions[0]).toMatch(new RegExp(`^confirm\\|mcpauthd: allow ${escape(nodeProgram())} \\(pid \\d+\\) to use your MCP credential for ${escape(URL_A)}\\?$`));
    expect(questions[1]).toContain(pythonProgram());
    // The yes is remembered for that program: no new question.
    expect(ask(process.execPath, 'ask.js')).toEqual({ ok: true });
    expect(asked()).toHaveLength(2);
    const shown = JSON.parse(cli('policy', 'show', '--json')) as PolicyShowResult;
    expect(shown.policies).toEqual([{ resource: URL_A, mode: 'confirm', approvals: [expect.objectContaining({ program: nodeProgram(), source: 'prompt' })] }]);
    // The change itself is in the trail, with the program that made it (mcpauthd's CLI, run by this jest worker).
    expect(audit('--resource', URL_A).events.find((e) => e.method === 'policy.set')).toMatchObject({ detail: 'confirm', outcome: 'ok', resource: URL_A });
    const denied = audit('--program', pythonProgram()).events[0];
    expect(denied).toMatchObject({ method: 'token.get', outcome: 'denied', error_code: 'denied', resource: URL_A });
    expect(cli('audit', '--program', pythonProgram())).toContain('token.get: DENIED');
  });

  it('deny: only programs allowed by name; no question is asked; revoke takes an approval back', () => {
    cli('policy', 'set', URL_A, 'deny');
    expect(ask('python3', 'ask.py')).toMatchObject({ ok: false, code: 'denied' });
    expect(ask(process.execPath, 'ask.js')).toEqual({ ok: true }); // approved earlier
    expect(asked()).toHaveLength(2);
    cli('policy', 'revoke', URL_A, nodeProgram());
    expect(ask(process.execPath, 'ask.js')).toMatchObject({ ok: false, code: 'denied' });
    cli('policy', 'allow', URL_A, pythonProgram(), '--for', '1h');
    expect(ask('python3', 'ask.py')).toEqual({ ok: true });
    expect(asked()).toHaveLength(2);
  });

  it('attributes the proxy to the program that started it, and the proxy shows `denied` as an MCP error', () => {
    const run = spawnSync('python3', [script('parent.py'), process.execPath, join(REPO_ROOT, 'dist', 'client', 'cli', 'main.js'), URL_A], { env: env(), encoding: 'utf8', timeout: 30_000 });
    recordOutput('parent.py stdout', run.stdout);
    const reply = JSON.parse(run.stdout.trim()) as { id: number; error?: { code: number; message: string } };
    expect(reply.id).toBe(1);
    expect(reply.error?.message).toContain('mcpauthd policy allow');
    const parentProgram = `${PYTHON} ${script('parent.py')}`;
    const events = audit('--program', parentProgram).events;
    expect(events[0]).toMatchObject({ method: 'token.get', outcome: 'denied', program: parentProgram });
    // The peer itself was mcpauthd's own command, started by the parent.
    expect(events[0]?.chain[0]).toBe(`${NODE} ${realpathSync(join(REPO_ROOT, 'dist', 'client', 'cli', 'main.js'))}`);
    expect(events[0]?.chain[1]).toBe(parentProgram);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
