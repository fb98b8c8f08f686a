/**
 * Issue 13 item 6: refused connections are logged at most once per uid per
 * interval, with the number left out since the previous line. With the socket
 * directory loosened, a flood of refused connections wrote 79,442 lines in 8 s
 * and rotated the log away. Time is a manual clock; the refusals are real
 * (the kernel's SO_PEERCRED under a policy that makes this process a stranger).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createConnection } from 'node:net';
import { loadPeerChecker } from '../../daemon/server/peer-check.js';
import { RefusalLog } from '../../daemon/server/refusal-log.js';
import { DEFAULT_LIMITS } from '../../daemon/server/socket-server.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { ManualClock } from '../helpers/manual-clock.js';

describe('RefusalLog', () => {
  it('lets one line per key through per interval and counts the rest', () => {
    let now = 0;
    const log = new RefusalLog({ intervalMs: 1000, now: () => now });
    expect(log.record('1001')).toEqual({ log: true, suppressed: 0 });
    for (let i = 0; i < 5; i++) expect(log.record('1001')).toEqual({ log: false, suppressed: 0 });
    // Another uid has its own budget.
    expect(log.record('1002')).toEqual({ log: true, suppressed: 0 });
    now = 999;
    expect(log.record('1001').log).toBe(false);
    now = 1000;
    expect(log.record('1001')).toEqual({ log: true, suppressed: 6 });
    expect(log.record('1001')).toEqual({ log: false, suppressed: 0 });
    // What is still uncounted when the daemon stops is handed out once.
    expect(log.drain()).toEqual([{ key: '1001', suppressed: 1 }]);
    expect(log.drain()).toEqual([]);
  });

  it('tracks a bounded number of keys', () => {
    const log = new RefusalLog({ intervalMs: 1000, now: () => 0, maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) expect(log.record(key).log).toBe(true);
    expect(log.size).toBe(3);
  });
});

describe('refused connections in the daemon log', () => {
  let clock: ManualClock;
  let t: TestDaemon;

  beforeAll(async () => {
    clock = new ManualClock(Date.now());
    // A policy under which this test process is a stranger: the daemon belongs to uid 4242 and root is not let in.
    t = await startTestDaemon({ clock, peerCheck: await loadPeerChecker({ ownUid: 4242, allowRoot: false }) });
  });
  afterAll(async () => {
    await t.stop();
  });

  /** Connects and resolves once the daemon has closed on us (the refusal is logged before that). */
  const refusedConnection = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = createConnection(t.home.paths.socket);
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
  const refusalLines = (): Record<string, unknown>[] =>
    t
      .logs()
      .split('\n')
      .filter((l) => l.includes('refused a connection'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('logs 200 refused connections from one uid as one line, then one line with the count after the interval', async () => {
    if (t.daemon.info.peer_check === 'directory-permissions-only') {
      process.stdout.write('refusal-log: SKIPPED the daemon check: no peer credential call on this machine. This is not a pass.\n');
      return;
    }
    for (let i = 0; i < 200; i++) await refusedConnection();
    expect(t.daemon.server.connectionCount).toBe(0);
    expect(refusalLines()).toHaveLength(1);
    expect(refusalLines()[0]).toMatchObject({ peer_uid: process.geteuid?.(), suppressed: 0 });

    await clock.advance(DEFAULT_LIMITS.refusalLogIntervalMs);
    await refusedConnection();
    expect(refusalLines()).toHaveLength(2);
    expect(refusalLines()[1]).toMatchObject({ peer_uid: process.geteuid?.(), suppressed: 199 });
  });
});
