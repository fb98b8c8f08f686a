/** A daemon in the test's own process, with a logger whose lines the test can read. */
import { Writable } from 'node:stream';
import { startDaemon, type DaemonHandle } from '../../daemon/daemon.js';
import { createLogger } from '../../daemon/logger.js';
import type { SchedulerClock } from '../../daemon/scheduler-clock.js';
import type { ServerLimits } from '../../daemon/socket-server.js';
import type { RefreshGrant } from '../../daemon/token-refresher.js';
import { makeTempHome, type TempHome } from './temp-home.js';

export interface TestDaemon {
  home: TempHome;
  daemon: DaemonHandle;
  logs(): string;
  stop(): Promise<void>;
}

export async function startTestDaemon(options: { limits?: Partial<ServerLimits>; clock?: SchedulerClock; grant?: RefreshGrant } = {}): Promise<TestDaemon> {
  const home = makeTempHome();
  let logs = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs += chunk.toString('utf8');
      cb();
    },
  });
  const daemon = await startDaemon({
    paths: home.paths,
    logger: createLogger({ level: 'debug', stream }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.grant === undefined ? {} : { grant: options.grant }),
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
