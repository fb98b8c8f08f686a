/**
 * Running the service manager's tools (systemctl, launchctl): found on PATH,
 * run without a shell, with a timeout, output captured for the message.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export interface CommandResult {
  /** null when the tool could not be started or was killed by the timeout. */
  status: number | null;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (command: string, args: string[]) => CommandResult;

/** A tool that hangs (a user bus that never answers) must not hang the CLI. */
export const COMMAND_TIMEOUT_MS = 30_000;

/** The absolute path of `name` on PATH, or undefined. Relative PATH entries are skipped, as a shell in a foreign directory would be a trap. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export function spawnRunner(env: NodeJS.ProcessEnv): CommandRunner {
  return (command, args) => {
    const result = spawnSync(command, args, { env, encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
    const failure = result.error === undefined ? '' : `${result.error.message}\n`;
    return { status: result.status, stdout: result.stdout ?? '', stderr: `${failure}${result.stderr ?? ''}` };
  };
}

/** The command as a person would type it, for messages. */
export function showCommand(command: string, args: string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
