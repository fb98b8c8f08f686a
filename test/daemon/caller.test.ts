// Who is asking (issue 18 item 1): real processes, read through /proc, named
// by executable and script; a proxy-like child of mcpauthd's own command is
// attributed to the program that started it; a pid gone is recorded as gone.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GONE_PROGRAM, UNKNOWN_PROGRAM, cachedReader, classify, describeCaller, scriptOf } from '../../daemon/server/caller.js';
import { readLinuxProcess, type RawProcess } from '../../daemon/server/process-view.js';
import { until } from '../helpers/until.js';

const linux = process.platform === 'linux';
const python = spawnSync('python3', ['-c', 'import os,sys; print(os.path.realpath(sys.executable))'], { encoding: 'utf8' });
const pythonExe = python.status === 0 ? python.stdout.trim() : undefined;
const read = (pid: number) => readLinuxProcess(pid);

/** Spawns a child that prints "ready <pid>" once its own pid is what the test should look at. */
async function started(command: string, args: string[], cwd: string): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await until(() => /ready (\d+)/.test(out), `${command} to start`);
  return { child, pid: Number(/ready (\d+)/.exec(out)![1]) };
}

(linux ? describe : describe.skip)('caller (Linux /proc; skipped elsewhere)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpauthd-caller-')));
    writeFileSync(join(dir, 'ask.js'), "process.stdout.write(`ready ${process.pid}\\n`); process.stdin.resume();\n");
    writeFileSync(join(dir, 'ask.py'), 'import os, sys\nprint(f"ready {os.getpid()}", flush=True)\nsys.stdin.read()\n');
    // A stand-in for the installed CLI: same place in a package named mcpauthd.
    mkdirSync(join(dir, 'pkg', 'dist', 'client', 'cli'), { recursive: true });
    writeFileSync(join(dir, 'pkg', 'package.json'), '{"name":"mcpauthd"}\n');
    writeFileSync(join(dir, 'pkg', 'dist', 'client', 'cli', 'main.js'), "process.stdout.write(`ready ${process.pid}\\n`); process.stdin.resume();\n");
    // A client program that starts "mcpauthd proxy" the way an MCP client does.
    writeFileSync(
      join(dir, 'client.py'),
      'import subprocess, sys\np = subprocess.Popen([sys.argv[1], sys.argv[2], "proxy"], stdout=sys.stdout, stdin=subprocess.PIPE)\np.wait()\n',
    );
  });
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a node script by the node executable and the script', async () => {
    const { child, pid } = await started(process.execPath, ['ask.js'], dir);
    children.push(child);
    const caller = describeCaller(pid, read);
    expect(caller.program).toBe(`${realpathSync(process.execPath)} ${join(dir, 'ask.js')}`);
    expect(caller.chain[0]).toMatchObject({ pid, kind: 'interpreter', script: join(dir, 'ask.js') });
    // The chain goes on through this jest worker (node) up to a program that is neither interpreter nor shell.
    expect(caller.chain[1]?.pid).toBe(process.pid);
    const last = caller.chain.at(-1)!;
    expect(['program', 'gone', 'unknown']).toContain(last.kind);
  });

  (pythonExe === undefined ? it.skip : it)('names a python script by the python executable and the script (skipped without python3)', async () => {
    const { child, pid } = await started('python3', ['ask.py'], dir);
    children.push(child);
    expect(describeCaller(pid, read).program).toBe(`${pythonExe} ${join(dir, 'ask.py')}`);
  });

  it('never records inline code: `python3 -c CODE` is named by its flag', async () => {
    const code = 'import os; print(f"ready {os.getpid()}", flush=True); input()  # secret-looking-text';
    const { child, pid } = await started('python3', ['-c', code], dir);
    children.push(child);
    const caller = describeCaller(pid, read);
    expect(caller.program).toMatch(/python3[.\d]* -c$/);
    expect(JSON.stringify(caller)).not.toContain('secret-looking-text');
  });

  (pythonExe === undefined ? it.skip : it)('attributes mcpauthd\'s own command (the proxy) to the program that started it', async () => {
    const cli = join(dir, 'pkg', 'dist', 'client', 'cli', 'main.js');
    const { child, pid } = await started('python3', ['client.py', process.execPath, cli], dir);
    children.push(child);
    const caller = describeCaller(pid, read);
    expect(caller.chain[0]).toMatchObject({ pid, script: cli });
    expect(caller.program).toBe(`${pythonExe} ${join(dir, 'client.py')}`);
    expect(caller.programPid).toBe(child.pid);
  });

  it('looks through a shell running a command line, not through one running a script', async () => {
    const viaLine = await started('/bin/sh', ['-c', `${process.execPath} ask.js; true`], dir);
    children.push(viaLine.child);
    // The peer is node itself: attributed to it, and the shell is in the chain above it.
    const caller = describeCaller(viaLine.pid, read);
    expect(caller.program).toBe(`${realpathSync(process.execPath)} ${join(dir, 'ask.js')}`);
    expect(caller.chain[1]).toMatchObject({ kind: 'shell', script: '-c', pid: viaLine.child.pid });
    // The shell with -c, asked about directly, passes on to its parent (this jest worker).
    expect(describeCaller(viaLine.child.pid!, read).chain[0]?.kind).toBe('shell');
    expect(describeCaller(viaLine.child.pid!, read).programPid).not.toBe(viaLine.child.pid);
    writeFileSync(join(dir, 'job.sh'), `${process.execPath} ${join(dir, 'ask.js')}\ntrue\n`);
    const viaScript = await started('/bin/sh', ['job.sh'], dir);
    children.push(viaScript.child);
    const shell = describeCaller(viaScript.child.pid!, read);
    expect(shell.program).toMatch(new RegExp(`/(dash|bash|sh) ${join(dir, 'job.sh').replace(/[.]/g, '\\.')}$`));
  });

  it('records a pid that is gone as gone, never a guess', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    // Node has reaped it: the pid names no process (a reuse within these milliseconds would need the whole pid space to wrap).
    expect(read(pid).state).toBe('gone');
    expect(describeCaller(pid, read)).toMatchObject({ pid, program: GONE_PROGRAM, chain: [{ pid, kind: 'gone', exe: null }] });
    expect(describeCaller(undefined, read).program).toBe(UNKNOWN_PROGRAM);
  });
});

describe('cachedReader', () => {
  it('re-reads a pid whose identity (start time) changed: a reused pid is never taken for the old process', () => {
    let identity = 't1';
    let exe = '/usr/bin/first';
    let reads = 0;
    const read = (pid: number): RawProcess => {
      reads += 1;
      return { pid, state: 'live', exe, argv: [exe], cwd: null, ppid: 1, identity };
    };
    const cached = cachedReader(read, () => identity);
    expect(cached(42).exe).toBe('/usr/bin/first');
    expect(cached(42).exe).toBe('/usr/bin/first');
    expect(reads).toBe(1); // the same process: served from the cache
    identity = 't2';
    exe = '/usr/bin/second';
    expect(cached(42).exe).toBe('/usr/bin/second');
    expect(reads).toBe(2);
  });
});

describe('script of an interpreter, from argv', () => {
  const rules = (exe: string) => classify(exe)!.rules;
  it.each([
    ['/usr/bin/node', ['node', '--require', 'x.js', '/a/s.js', '--flag'], '/a/s.js'],
    ['/usr/bin/node', ['node', '-e', 'token()'], '-e'],
    // An option's value is not the script (it was named "node 50"), written either way.
    ['/usr/bin/node', ['node', '--cpu-prof', '--cpu-prof-interval', '50', '/a/s.js'], '/a/s.js'],
    ['/usr/bin/node', ['node', '--cpu-prof-dir=/tmp/p', '--heap-prof-dir', '/tmp/h', '/a/s.js'], '/a/s.js'],
    ['/usr/bin/python3.12', ['python3', '-u', '-m', 'pkg.tool', 'x'], '-m pkg.tool'],
    ['/usr/bin/python3.12', ['python3', '-W', 'ignore', '/a/s.py'], '/a/s.py'],
    ['/usr/bin/python3.12', ['python3', '-cprint(1)'], '-c'],
    ['/usr/local/bin/deno', ['deno', 'run', '--allow-net', '/a/m.ts'], '/a/m.ts'],
    ['/usr/local/bin/bun', ['bun', 'run', '/a/m.ts'], '/a/m.ts'],
    ['/usr/bin/ruby', ['ruby', '-e', 'p 1'], '-e'],
    ['/usr/bin/perl', ['perl', '/a/x.pl'], '/a/x.pl'],
    ['/usr/bin/bash', ['bash', '-c', 'echo hi'], '-c'],
    ['/usr/bin/zsh', ['zsh'], null],
  ])('%s %j → %s', (exe, argv, script) => {
    expect(scriptOf(argv, rules(exe), '/')).toBe(script);
  });
  it('knows a program that is neither', () => {
    expect(classify('/opt/Claude/claude')).toBeUndefined();
    expect(classify('/usr/bin/python3.12')?.kind).toBe('interpreter');
    expect(classify('/usr/bin/dash')?.kind).toBe('shell');
  });
});
