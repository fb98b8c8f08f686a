/**
 * How the login's loopback callback is protected from other local users on
 * this platform (daemon/loopback-guard.ts enforces it; `status` and `doctor`
 * report it). Linux: the owner of every connection is read from
 * /proc/net/tcp{,6}. Elsewhere (macOS included) no owner check is wired: the
 * callback is protected by the OAuth `state` alone.
 */
import type { CallbackPeerCheckMode } from './protocol/types.js';

export type { CallbackPeerCheckMode };

export function callbackPeerCheckMode(platform: NodeJS.Platform = process.platform): CallbackPeerCheckMode {
  return platform === 'linux' ? 'proc_net_tcp' : 'state_only';
}

/** One line for people: what protects the login callback here. */
export function callbackPeerCheckText(mode: CallbackPeerCheckMode): string {
  return mode === 'proc_net_tcp'
    ? 'only this user and root (owner of each connection from /proc/net/tcp)'
    : 'protected by the OAuth state alone: this platform gives no owner of a loopback connection';
}
