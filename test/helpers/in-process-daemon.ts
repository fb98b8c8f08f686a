/** A daemon in the test's own process, with a logger whose lines the test can read. */
import { Writable } from 'node:stream';
import { startDaemon, type DaemonHandle } from '../../daemon/daemon.js';
import { createLogger } from '../../daemon/os/logger.js';
import type { PeerChecker } from '../../daemon/server/peer-check.js';
import type { SchedulerClock } from '../../daemon/refresh/scheduler-clock.js';
import type { ServerLimits } from '../../daemon/server/socket-server.js';
import type { RefreshGrant } from '../../daemon/refresh/token-refresher.js';
import { outputStream } from './secret-ledger.js';
import type { Asker } from '../../daemon/os/askpass.js';
import type { AuditSettings } from '../../daemon/serve/audit.js';
import { makeTempHome, type TempHome } from './temp-home.js';

export interface TestDaemon {
  home: TempHome;
  daemon: DaemonHandle;
  logs(): string;
  stop(): Promise<void>;
}

export async function startTestDaemon(
  options: { limits?: Partial<ServerLimits>; clock?: SchedulerClock; grant?: RefreshGrant; peerCheck?: PeerChecker; ask?: Asker; audit?: Partial<AuditSettings> } = {},
): Promise<TestDaemon> {
  const home = makeTempHome();
  let logs = '';
  const ledger = outputStream('in-process daemon log');
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString('utf8');
      logs += text;
      ledger(text);
      cb();
    },
  });
  const daemon = await startDaemon({
    paths: home.paths,
    logger: createLogger({ level: 'debug', stream }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.grant === undefined ? {} : { grant: options.grant }),
    ...(options.peerCheck === undefined ? {} : { peerCheck: options.peerCheck }),
    ...(options.ask === undefined ? {} : { ask: options.ask }),
    ...(options.audit === undefined ? {} : { audit: options.audit }),
  });
  return {
    home,
    daemon,
    logs: () => logs,
    stop: async () => {
      await daemon.close();
      home.remove();
    },
  };
}
