/**
 * The daemon as a real child process, started from the built CLI (dist/), the
 * way a user or a service manager starts it. Output is collected so tests can
 * search it for secrets.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outputStream, recordOutput } from './secret-ledger.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO_ROOT, 'dist', 'client', 'cli', 'main.js');

export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (signal → null). */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startDaemonProcess(env: NodeJS.ProcessEnv, args: string[] = []): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [CLI, 'daemon', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  // Everything the daemon prints goes to the secret ledger as it arrives (it may be SIGKILLed).
  const ledgerOut = outputStream(`daemon stdout (${args.join(' ') || 'no args'})`);
  const ledgerErr = outputStream(`daemon stderr (${args.join(' ') || 'no args'})`);
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    ledgerOut(d);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    ledgerErr(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (out.includes('mcpauthd ready')) {
        child.stdout!.off('data', onData);
        resolve({
          child,
          pid: child.pid as number,
          stdout: () => out,
          stderr: () => err,
          exited,
          stop: (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`daemon exited with ${code} before it was ready:\n${err}`)));
  });
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Hands a CLI run's output to the secret ledger. The stdout of `mcpauthd token`
 * is the one place a token is meant to appear, so it is left out.
 */
export function ledgerCliOutput(args: readonly string[], result: { stdout: string; stderr: string }): void {
  // The command word, not an option's value that happens to read "token".
  const isToken = args.some((arg, i) => arg === 'token' && (i === 0 || !(args[i - 1] ?? '').startsWith('--')));
  const label = `mcpauthd ${args.join(' ').slice(0, 120)}`;
  if (!isToken) recordOutput(`${label} (stdout)`, result.stdout);
  recordOutput(`${label} (stderr)`, result.stderr);
}

/** Runs the CLI to completion (synchronously: a CLI call is short, and this keeps tests linear). */
export function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', input: input ?? '', timeout: 20_000 });
  ledgerCliOutput(args, result);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs the CLI without blocking this process: needed whenever the CLI talks to
 * a server running inside the test (an authorization server, an MCP server).
 */
export function runCliAsync(args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // A hung CLI fails its test with its output instead of hanging the run.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      ledgerCliOutput(args, { stdout, stderr });
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}
