/**
 * A child process run to its end, asynchronously: the servers a test runs in
 * this process (authorization server, MCP servers) keep answering while it
 * runs, which spawnSync would block.
 */
import { spawn } from 'node:child_process';

export interface ProcessRun {
  /** Exit code; null when a signal ended it. */
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs `command args` with no stdin and resolves with its exit status and output; rejects only when it cannot start. */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}
