/**
 * Asking the user yes or no (issue 18, policy `confirm`), the way ssh-agent
 * does for `ssh-add -c`: a helper program shows the question and its exit
 * status is the answer. Which helper:
 *
 * 1. MCPAUTHD_ASKPASS, if set (an ssh-askpass-style program: the question is
 *    its one argument; exit 0 with nothing or "yes" on stdout = yes);
 * 2. with a display (DISPLAY or WAYLAND_DISPLAY): SSH_ASKPASS, then
 *    ssh-askpass-style helpers, zenity or kdialog found on PATH;
 * 3. on macOS: osascript.
 *
 * No helper, no display, a helper that fails, or no answer within the
 * timeout: refusal. The question carries names only (program, resource,
 * server), never a secret, so it may be an argument.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export interface Question {
  program: string;
  pid: number | null;
  resource: string;
  serverUrl: string | null;
}

export type AskOutcome =
  | { answer: 'yes'; helper: string }
  | { answer: 'no'; helper: string }
  | { answer: 'no_answer'; helper: string; timeoutMs: number }
  | { answer: 'failed'; helper: string; reason: string }
  | { answer: 'no_helper'; reason: string };

export type Asker = (question: Question) => Promise<AskOutcome>;

export interface Helper {
  name: string;
  command: string;
  args: (prompt: string) => string[];
  /** ssh-askpass convention: stdout must be empty or start with "yes". */
  askpassOutput: boolean;
}

const ASKPASS_NAMES = ['ssh-askpass', 'ksshaskpass', 'lxqt-openssh-askpass', 'x11-ssh-askpass', 'gnome-ssh-askpass'];
const ASKPASS_PATHS = ['/usr/lib/ssh/ssh-askpass', '/usr/libexec/openssh/ssh-askpass', '/usr/lib/openssh/gnome-ssh-askpass'];

/** The question as a person reads it. */
export function promptText(q: Question): string {
  const who = q.pid === null ? q.program : `${q.program} (pid ${q.pid})`;
  const server = q.serverUrl === null || q.serverUrl === q.resource ? '' : ` (MCP server ${q.serverUrl})`;
  return `mcpauthd: allow ${who} to use your MCP credential for ${q.resource}${server}?`;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  if (isAbsolute(name)) return executable(name) ? name : undefined;
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const askpassHelper = (command: string, name = command): Helper => ({ name, command, args: (p) => [p], askpassOutput: true });

/** The helper this environment offers, or why there is none. */
export function findHelper(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): Helper | { none: string } {
  const explicit = env['MCPAUTHD_ASKPASS'];
  if (explicit !== undefined && explicit !== '') {
    const path = onPath(explicit, env);
    return path === undefined ? { none: `MCPAUTHD_ASKPASS=${explicit} is not an executable file` } : askpassHelper(path, 'MCPAUTHD_ASKPASS');
  }
  if (platform === 'darwin') {
    const osascript = onPath('/usr/bin/osascript', env);
    if (osascript !== undefined) {
      return {
        name: 'osascript',
        command: osascript,
        args: (p) => ['-e', 'on run argv', '-e', 'display dialog (item 1 of argv) with title "mcpauthd" buttons {"Deny", "Allow"} default button "Deny" cancel button "Deny"', '-e', 'end run', p],
        askpassOutput: false,
      };
    }
    return { none: 'osascript was not found' };
  }
  if ((env['DISPLAY'] ?? '') === '' && (env['WAYLAND_DISPLAY'] ?? '') === '') {
    return { none: 'the daemon has no display (DISPLAY and WAYLAND_DISPLAY are unset) and MCPAUTHD_ASKPASS is not set' };
  }
  const sshAskpass = env['SSH_ASKPASS'];
  if (sshAskpass !== undefined && sshAskpass !== '' && onPath(sshAskpass, env) !== undefined) return askpassHelper(onPath(sshAskpass, env) as string);
  for (const name of [...ASKPASS_NAMES, ...ASKPASS_PATHS]) {
    const path = onPath(name, env);
    if (path !== undefined) return askpassHelper(path);
  }
  const zenity = onPath('zenity', env);
  if (zenity !== undefined) return { name: 'zenity', command: zenity, args: (p) => ['--question', '--title=mcpauthd', `--text=${p}`], askpassOutput: false };
  const kdialog = onPath('kdialog', env);
  if (kdialog !== undefined) return { name: 'kdialog', command: kdialog, args: (p) => ['--title', 'mcpauthd', '--yesno', p], askpassOutput: false };
  return { none: 'no ssh-askpass, zenity or kdialog was found and MCPAUTHD_ASKPASS is not set' };
}

/** Runs the helper once; the child is killed (by its own pid) when it does not answer in time. */
export function runHelper(helper: Helper, prompt: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<AskOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: AskOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const child = spawn(helper.command, helper.args(prompt), {
      env: { ...env, SSH_ASKPASS_PROMPT: 'confirm', MCPAUTHD_ASKPASS_PROMPT: 'confirm' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < 256) out += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ answer: 'no_answer', helper: helper.name, timeoutMs });
    }, timeoutMs);
    child.once('error', (err) => done({ answer: 'failed', helper: helper.name, reason: err.message }));
    child.once('close', (code) => {
      const said = out.trim().toLowerCase();
      const yes = code === 0 && (!helper.askpassOutput || said === '' || said.startsWith('yes'));
      done({ answer: yes ? 'yes' : 'no', helper: helper.name });
    });
  });
}

/** The asker the daemon uses: finds a helper on every question (the environment may change between questions only in tests). */
export function createAsker(options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; platform?: NodeJS.Platform } = {}): Asker {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
  return async (question) => {
    const helper = findHelper(env, options.platform);
    if ('none' in helper) return { answer: 'no_helper', reason: helper.none };
    return runHelper(helper, promptText(question), env, timeoutMs);
  };
}

/** How long a question waits for its answer: inside an MCP client's usual 60 s request timeout. */
export const DEFAULT_ASK_TIMEOUT_MS = 30_000;
