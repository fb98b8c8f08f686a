/**
 * How a login sets up its loopback listener: its deadline and cancellation,
 * and what it logs about refused connections and callbacks. Never a secret:
 * the messages name reasons and uids, not states, codes or URLs.
 */
import type { Logger } from '../os/logger.js';
import type { CallbackOptions } from './loopback-callback.js';

export interface LoginCallbackInput {
  timeoutMs: number;
  signal: AbortSignal | undefined;
  log: Logger;
}

export function callbackOptions({ timeoutMs, signal, log }: LoginCallbackInput): CallbackOptions {
  const options: CallbackOptions = {
    timeoutMs,
    // Once per uid and reason, then a count when the listener closes: a flood cannot flood the log.
    onPeerRefused: (refusal) =>
      log.warn('login callback: connection from another user refused', {
        reason: refusal.reason,
        ...(refusal.uid === undefined ? {} : { uid: refusal.uid }),
        count: refusal.count,
      }),
    onCallbackRefused: (reason) => log.warn('login callback refused, still waiting for the right one', { reason }),
  };
  if (signal !== undefined) options.signal = signal;
  return options;
}
