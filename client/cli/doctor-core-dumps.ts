/**
 * The `core_dumps` line of `mcpauthd doctor`: can a crash of the daemon write
 * its memory (every token) to a core file? The daemon turns core dumps off at
 * start, reads the result back from the kernel (getrlimit, PR_GET_DUMPABLE)
 * and reports it in `status` (daemon/process-hardening.ts); this reports that.
 */
import type { DaemonInfo } from '../../shared/protocol/types.js';

export interface CoreDumpCheck {
  id: 'core_dumps';
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix?: string;
}

const FIX = 'restart the daemon with this mcpauthd version, or run it with core dumps off (the service unit sets LimitCORE=0: mcpauthd install-service; by hand: ulimit -c 0)';

export function coreDumpCheck(info: DaemonInfo): CoreDumpCheck {
  const reported = info.core_dumps;
  if (reported === undefined) {
    return { id: 'core_dumps', status: 'warn', message: 'the daemon does not report whether core dumps are off (an older version, or not started by "mcpauthd daemon")', fix: FIX };
  }
  if (!reported.core_limit_zero || reported.dumpable === true) {
    return { id: 'core_dumps', status: 'fail', message: `core dumps are not off in the daemon, a crash could write its tokens to disk: ${reported.reason ?? 'no reason given'}`, fix: FIX };
  }
  const dumpable = reported.dumpable === false ? ', and it is not dumpable (no core, no ptrace by other processes of the user)' : '';
  return { id: 'core_dumps', status: 'ok', message: `core dumps are off: the daemon's core file limit is 0${dumpable}` };
}
