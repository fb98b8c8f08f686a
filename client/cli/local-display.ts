/**
 * Whether a browser can be opened for the person at this terminal (issue 16
 * item 1): yes when $BROWSER names one (the user said how, even over SSH);
 * not over SSH (SSH_CONNECTION / SSH_TTY), on Linux and other Unix
 * only with DISPLAY or WAYLAND_DISPLAY, on macOS only in a GUI (Aqua) session.
 * Without one, `mcpauthd login` prefers the device authorization grant.
 */
import { execFileSync } from 'node:child_process';

export interface DisplayFacts {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** macOS: whether this is a GUI session; default asks `launchctl managername` (Aqua = GUI). */
  macGuiSession?: () => boolean;
}

export type LocalDisplay = { available: true } | { available: false; why: string };

function launchctlSaysAqua(): boolean {
  try {
    return execFileSync('launchctl', ['managername'], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'Aqua';
  } catch {
    // Cannot tell: assume a desktop, as before this check existed.
    return true;
  }
}

export function localDisplay(facts: DisplayFacts): LocalDisplay {
  const { env, platform } = facts;
  if ((env['BROWSER'] ?? '').trim() !== '') return { available: true };
  if ((env['SSH_CONNECTION'] ?? '') !== '' || (env['SSH_TTY'] ?? '') !== '') return { available: false, why: 'this is an SSH session' };
  if (platform === 'win32') return { available: true };
  if (platform === 'darwin') return (facts.macGuiSession ?? launchctlSaysAqua)() ? { available: true } : { available: false, why: 'this is not a macOS GUI session' };
  if ((env['DISPLAY'] ?? '') !== '' || (env['WAYLAND_DISPLAY'] ?? '') !== '') return { available: true };
  return { available: false, why: 'neither DISPLAY nor WAYLAND_DISPLAY is set' };
}
