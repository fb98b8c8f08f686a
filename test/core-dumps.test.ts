/**
 * Issue 13 item 4: the daemon itself turns core dumps off (RLIMIT_CORE 0 and,
 * on Linux, PR_SET_DUMPABLE 0), so a crash cannot write its memory (tokens)
 * to disk even when it was started under `ulimit -c unlimited`.
 *
 * What is checked, on Linux only (the kernel interfaces read here are Linux's):
 * - the daemon started through `prlimit --core=unlimited` after a real login
 *   shows "Max core file size 0 0" in /proc/<pid>/limits;
 * - SIGSEGV then kills it and no core file appears in its working directory,
 *   while a control process (`sleep`) started the same way in the same place
 *   does leave one, so the observation can fail;
 * - as root, with the daemon run as the suite's second local user: its
 *   /proc/<pid>/status is owned by root, which is how the kernel shows a process
 *   whose dumpable flag is off (PR_SET_DUMPABLE 0); a control process of the
 *   same user is owned by that user. (Raising the limit again from outside
 *   and crashing would be the direct proof, but root here lacks
 *   CAP_SYS_RESOURCE, so a hard limit of 0 cannot be raised.)
 * - `mcpauthd doctor --json` reports core dumps as off.
 * Only core_pattern "core"-style patterns (a file in the working directory)
 * can be observed; with a pipe or another directory the cases are skipped,
 * loudly. Nothing global is changed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreDumpCheck } from '../client/cli/doctor-core-dumps.js';
import { McpAuthdClient } from '../client/index.js';
import { coreDumpsOff, disableCoreDumps } from '../daemon/os/process-hardening.js';
import type { DaemonInfo } from '../shared/protocol/types.js';
import { resolvePaths } from '../shared/paths.js';
import { startAuthServer, type AuthServer } from './fixtures/auth-server.js';
import { completeLogin } from './fixtures/browser.js';
import { startMcpServer, type McpTestServer } from './fixtures/mcp-server.js';
import { CLI, runCliAsync } from './helpers/daemon-process.js';
import { outputStream } from './helpers/secret-ledger.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';

const corePattern = process.platform === 'linux' ? readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim() : '';
const hasPrlimit = process.platform === 'linux' && spawnSync('prlimit', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
// A relative pattern without '/' and without a pipe: the core lands in the crashing process's cwd.
const observable = /^[^|/][^/]*$/.test(corePattern);
const skipReason =
  process.platform !== 'linux'
    ? `not Linux (${process.platform}): /proc limits and core_pattern are Linux interfaces`
    : !hasPrlimit
      ? 'prlimit (util-linux) is not installed'
      : !observable
        ? `core_pattern is ${JSON.stringify(corePattern)}: a core would not land in the working directory, so its absence proves nothing`
        : undefined;

function skipped(name: string, extra?: string): boolean {
  const reason = skipReason ?? extra;
  if (reason === undefined) return false;
  process.stdout.write(`core-dumps: SKIPPED "${name}": ${reason}. This is not a pass.\n`);
  return true;
}

const PEER_USER = 'mcpauthd-test-peer';

/** The second local user the suite uses (created as in test/second-user.test.ts), or undefined when it cannot be had. */
function peerUser(): { uid: number; gid: number } | undefined {
  if (spawnSync('id', ['-u', PEER_USER]).status !== 0) spawnSync('useradd', ['-M', '-r', '-s', '/usr/sbin/nologin', PEER_USER]);
  const uid = Number(spawnSync('id', ['-u', PEER_USER], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', PEER_USER], { encoding: 'utf8' }).stdout.trim());
  return Number.isInteger(uid) && uid > 0 && Number.isInteger(gid) && gid > 0 ? { uid, gid } : undefined;
}

const coreFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f === 'core' || f.startsWith('core.'));
const exitOf = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

/** The daemon under an unlimited core limit, in `cwd`; resolves once it printed its ready line. */
function startUnlimited(home: TempHome, cwd: string): Promise<ChildProcess> {
  const child = spawn('prlimit', ['--core=unlimited', '--', process.execPath, CLI, 'daemon'], { cwd, env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ledger = outputStream('core-dumps daemon stderr');
  child.stderr!.setEncoding('utf8').on('data', ledger);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('mcpauthd ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code} before it was ready`)));
  });
}

/** A control: `sleep` under an unlimited core limit in `cwd`, killed with SIGSEGV, leaves a core. */
async function controlCore(cwd: string): Promise<string[]> {
  const child = spawn('prlimit', ['--core=unlimited', '--', 'sleep', '30'], { cwd, stdio: 'ignore' });
  // prlimit execs sleep (same pid): wait until it has, so the signal hits sleep and not prlimit.
  for (let i = 0; i < 400 && !readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGSEGV');
  await exitOf(child);
  return coreFiles(cwd);
}

describe('doctor core_dumps line', () => {
  const info: DaemonInfo = { pid: 1, version: '0', protocol: 1, socket: '/s', home: '/h', started_at: 0, peer_check: 'peercred' };
  it('fails when the daemon reports core dumps not off, warns when it reports nothing, passes when off', () => {
    expect(coreDumpCheck({ ...info, core_dumps: { core_limit_zero: false, dumpable: false, reason: 'setrlimit(RLIMIT_CORE, 0) failed' } })).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('setrlimit(RLIMIT_CORE, 0) failed'),
    });
    expect(coreDumpCheck({ ...info, core_dumps: { core_limit_zero: true, dumpable: true, reason: 'prctl' } }).status).toBe('fail');
    expect(coreDumpCheck(info).status).toBe('warn');
    expect(coreDumpCheck({ ...info, core_dumps: { core_limit_zero: true, dumpable: null, reason: null } }).status).toBe('ok');
  });
});

describe('disableCoreDumps without the means', () => {
  it('says why instead of claiming protection when koffi cannot be loaded or the platform has no call', async () => {
    const noKoffi = await disableCoreDumps({ platform: 'linux', loadKoffi: () => Promise.reject(new Error("Cannot find package 'koffi'\nstack")) });
    expect(noKoffi).toEqual({ core_limit_zero: false, dumpable: null, reason: "the koffi FFI module could not be loaded (Cannot find package 'koffi')" });
    expect(coreDumpsOff(noKoffi)).toBe(false);
    const windows = await disableCoreDumps({ platform: 'win32', loadKoffi: () => Promise.reject(new Error('not called')) });
    expect(windows).toEqual({ core_limit_zero: false, dumpable: null, reason: 'no core-dump control is known on win32' });
  });
});

describe('core dumps (issue 13 item 4)', () => {
  let as: AuthServer;
  let mcp: McpTestServer;
  const dirs: string[] = [];
  const homes: TempHome[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
  });
  afterAll(async () => {
    // A failed case may leave its daemon running.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map(exitOf));
    await mcp.stop();
    await as.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    for (const home of homes) home.remove();
  });

  const workDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpauthd-core-'));
    dirs.push(dir);
    return dir;
  };

  /** A daemon under an unlimited core limit holding a real credential (tokens in its memory). */
  async function daemonWithSecrets(cwd: string): Promise<{ child: ChildProcess; home: TempHome }> {
    const home = makeTempHome();
    homes.push(home);
    const child = await startUnlimited(home, cwd);
    children.push(child);
    const client = new McpAuthdClient({ socket: home.paths.socket });
    try {
      await client.login({ server_url: mcp.url, insecure_loopback: true }, (p) => {
        if (p.stage === 'authorize_url' && p.authorize_url !== undefined) void completeLogin(p.authorize_url);
      });
      await client.getToken(mcp.url);
    } finally {
      client.close();
    }
    return { child, home };
  }

  /** Which issued secrets a core file holds (for a failure message: fingerprints only, by count). */
  const secretsIn = (file: string): number => {
    const bytes = readFileSync(file);
    return as.issuedSecrets().filter((s) => bytes.includes(s)).length;
  };

  it('sets its core limit to 0 and leaves no core on SIGSEGV when started under an unlimited limit', async () => {
    if (skipped('core limit')) return;
    const control = workDir();
    expect(await controlCore(control)).not.toEqual([]);

    const cwd = workDir();
    const { child, home } = await daemonWithSecrets(cwd);
    const limits = readFileSync(`/proc/${child.pid}/limits`, 'utf8');
    expect(limits).toMatch(/^Max core file size\s+0\s+0\s+bytes\s*$/m);

    const doctor = await runCliAsync(['doctor', '--json'], home.env);
    const checks = (JSON.parse(doctor.stdout) as { checks: { id: string; status: string; message: string }[] }).checks;
    expect(checks.find((c) => c.id === 'core_dumps')).toMatchObject({ status: 'ok' });

    child.kill('SIGSEGV');
    expect((await exitOf(child)).signal).toBe('SIGSEGV');
    const cores = coreFiles(cwd);
    expect({ cores, secretsInThem: cores.map((f) => secretsIn(join(cwd, f))) }).toEqual({ cores: [], secretsInThem: [] });
  });

  it('is not dumpable: the kernel shows its /proc files as root-owned, unlike a control process of the same user', async () => {
    const peer = isRoot ? peerUser() : undefined;
    if (skipped('not dumpable', peer === undefined ? 'not root, or no second local user: the dumpable flag is only visible for a process of a non-root user' : undefined)) return;
    const { uid, gid } = peer!;
    // The kernel makes the files in a non-dumpable process's /proc/<pid> owned by root (proc(5), PR_SET_DUMPABLE).
    // Visible only for a process whose user is not root: run the daemon as the second local user.
    const root = workDir();
    chownSync(root, uid, gid);
    const paths = resolvePaths({ home: join(root, 'home'), socket: join(root, 'run', 'd.sock') });
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: root, MCPAUTHD_HOME: paths.home, MCPAUTHD_SOCKET: paths.socket };

    const control = spawn('sleep', ['30'], { cwd: root, uid, gid, stdio: 'ignore' });
    children.push(control);
    expect(statSync(`/proc/${control.pid}/status`).uid).toBe(uid);
    control.kill('SIGTERM');

    const child = spawn(process.execPath, [CLI, 'daemon'], { cwd: root, uid, gid, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    child.stderr!.setEncoding('utf8').on('data', outputStream('core-dumps daemon (second user) stderr'));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('mcpauthd ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`daemon exited with ${code} before it was ready`)));
    });
    expect(readFileSync(`/proc/${child.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
    expect(statSync(`/proc/${child.pid}/status`).uid).toBe(0);
    child.kill('SIGTERM');
    expect((await exitOf(child)).code).toBe(0);
  });
});
