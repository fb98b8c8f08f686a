/**
 * The daemon, wired: paths → private directories → instance lock → socket
 * claim → token store → socket server. `startDaemon` is what `mcpauthd daemon`
 * runs and what in-process tests start; `close()` is the orderly shutdown.
 */
import { AuthdError } from '../shared/errors.js';
import { PROTOCOL_VERSION, type DaemonInfo } from '../shared/protocol.js';
import type { Paths } from '../shared/paths.js';
import { VERSION } from '../shared/version.js';
import { summarize } from './credential-view.js';
import { dispatch, type Handlers } from './dispatch.js';
import { acquireInstanceLock, type InstanceLock } from './instance-lock.js';
import type { Logger } from './logger.js';
import { ensurePrivateDirectory } from './private-path.js';
import { claimSocketPath } from './socket-probe.js';
import { SocketServer, type ServerLimits } from './socket-server.js';
import { describeRef, findCredential, getToken } from './token-service.js';
import { TokenStore } from './token-store.js';

export interface DaemonOptions {
  paths: Paths;
  logger: Logger;
  now?: () => number;
  limits?: Partial<ServerLimits>;
}

export interface DaemonHandle {
  readonly info: DaemonInfo;
  readonly store: TokenStore;
  readonly server: SocketServer;
  close(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const { paths, logger } = options;
  const now = options.now ?? Date.now;
  // Everything this process creates (database, WAL, socket, pid file) is
  // owner-only from birth, as ssh-agent does with umask(0177).
  process.umask(0o077);
  ensurePrivateDirectory(paths.home);
  ensurePrivateDirectory(paths.socketDir);

  const lock: InstanceLock = acquireInstanceLock(paths.pidFile, `the state directory ${paths.home}`);
  let store: TokenStore | undefined;
  try {
    const claimed = await claimSocketPath(paths.socket);
    if (claimed === 'replaced-stale') logger.warn('replaced a stale socket left by an earlier daemon', { socket: paths.socket });
    store = TokenStore.open(paths.database, { now });
    const info: DaemonInfo = {
      pid: process.pid,
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      socket: paths.socket,
      home: paths.home,
      started_at: Math.floor(now() / 1000),
    };
    const handlers = createHandlers({ store, info, now });
    const server = new SocketServer({
      socketPath: paths.socket,
      socketDir: paths.socketDir,
      logger,
      handle: (request, ctx) => dispatch(request, handlers, ctx),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    });
    await server.start();
    logger.info('daemon started', { pid: info.pid, version: info.version, socket: paths.socket, home: paths.home, credentials: store.count() });

    const openStore = store;
    let closing: Promise<void> | undefined;
    return {
      info,
      store: openStore,
      server,
      close() {
        closing ??= (async () => {
          await server.close();
          openStore.close();
          lock.release();
          logger.info('daemon stopped', { pid: info.pid });
        })();
        return closing;
      },
    };
  } catch (err) {
    store?.close();
    lock.release();
    throw err;
  }
}

function createHandlers(deps: { store: TokenStore; info: DaemonInfo; now: () => number }): Handlers {
  const { store, info, now } = deps;
  return {
    hello: async (params) => {
      if (!params.versions.includes(PROTOCOL_VERSION)) {
        throw new AuthdError('unsupported_version', `this daemon speaks protocol ${PROTOCOL_VERSION}; the client offered ${params.versions.join(', ')}`);
      }
      return { protocol: PROTOCOL_VERSION, version: info.version, pid: info.pid };
    },
    status: async () => {
      const at = now();
      return { daemon: info, credentials: store.list().map((record) => summarize(record, at)) };
    },
    'token.get': (params) => getToken(params, { store, now }),
    'credential.delete': async (params) => {
      const record = findCredential(store, params);
      if (record === undefined) throw new AuthdError('not_found', `no credential for ${describeRef(params)}`);
      return { deleted: store.deleteCredential(record.resourceKey), resource: record.resource };
    },
    login: async () => {
      throw new AuthdError('unsupported_method', 'login is not available in this build');
    },
    'login.callback': async () => {
      throw new AuthdError('unsupported_method', 'login is not available in this build');
    },
  };
}
