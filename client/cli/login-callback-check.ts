/**
 * doctor's `login_callback` check: how a login's loopback callback is kept
 * from other local users here (issue 13 items 1-3). On Linux the daemon reads
 * the owner of each connection from /proc/net/tcp and refuses every
 * connection when it cannot (fail closed), so an unreadable table is a
 * failure; elsewhere there is no owner check and `state` alone protects it.
 */
import { readFileSync } from 'node:fs';
import { callbackPeerCheckMode, callbackPeerCheckText } from '../../shared/callback-peer-check.js';
import type { DoctorCheck } from './doctor-check.js';

export function loginCallbackCheck(platform: NodeJS.Platform = process.platform, readTable: () => string = () => readFileSync('/proc/net/tcp', 'latin1')): DoctorCheck {
  const mode = callbackPeerCheckMode(platform);
  const id = 'login_callback';
  if (mode === 'state_only') {
    return {
      id,
      status: 'warn',
      message: `login callback: ${callbackPeerCheckText(mode)}; another local user who learns a login's state could answer it`,
      fix: 'on a machine shared with people you do not trust, log in where only you have an account',
    };
  }
  try {
    readTable();
  } catch (err) {
    return {
      id,
      status: 'fail',
      message: `login callback: /proc/net/tcp cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}), so the daemon refuses every browser callback`,
      fix: 'make /proc/net/tcp readable for your user (a /proc mount with hidepid or a sandbox may hide it)',
    };
  }
  return { id, status: 'ok', message: `login callback: ${callbackPeerCheckText(mode)}` };
}
