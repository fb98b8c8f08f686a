/**
 * The daemon, wired: paths → private directories → instance lock → socket
 * claim → token store → socket server. `startDaemon` is what `mcpauthd daemon`
 * runs and what in-process tests start; `close()` is the orderly shutdown.
 */
import { type CoreDumpProtection, PROTOCOL_VERSION, type DaemonInfo } from '../shared/protocol/types.js';
import type { Paths } from '../shared/paths.js';
import { VERSION } from '../shared/version.js';
import { effectiveState } from './serve/credential-view.js';
import { dispatch } from './server/dispatch.js';
import { createHandlers } from './server/handlers.js';
import { Subscribers } from './server/subscribers.js';
import { LoginRegistry } from './login/login-registry.js';
import { HTTP_TIMEOUT_MS, REFRESH_TIMEOUT_MS } from './oauth/http-fetch.js';
import { acquireInstanceLock, type InstanceLock } from './os/instance-lock.js';
import type { Logger } from './os/logger.js';
import { ensurePrivateDirectory } from './os/private-path.js';
import { assertPeerCheckAllowed, loadPeerChecker, type PeerChecker } from './server/peer-check.js';
import { claimSocketPath } from './server/socket-probe.js';
import { SocketServer, type ServerLimits } from './server/socket-server.js';
import { RefreshScheduler } from './refresh/refresh-scheduler.js';
import { systemClock, type SchedulerClock } from './refresh/scheduler-clock.js';
import { TokenRefresher, type ChangeListener, type RefreshGrant, type Regrant } from './refresh/token-refresher.js';
import { TokenStore } from './store/token-store.js';
import { callbackPeerCheckMode } from '../shared/callback-peer-check.js';
import { parseKeyProviderChoice, type KeyProviderChoice } from '../shared/key-providers.js';
import { defaultKeySources, resolveDataKey, type KeySources } from './store/key-provider.js';
import { AuditLog, type AuditSettings } from './serve/audit.js';
import { PolicyService, type PolicySettings } from './serve/policy.js';
import { createAsker, type Asker } from './os/askpass.js';
import { cachedReader, describeCaller } from './server/caller.js';
import { loadProcessReader } from './server/process-view.js';
import { importKoffi } from './server/peer-check.js';
import { AuditTable } from './store/audit-table.js';
import { PolicyTable } from './store/policy-table.js';
import { auditRefreshes } from './server/audit-handlers.js';

export interface DaemonOptions {
  paths: Paths;
  logger: Logger;
  /** Time for scheduling and expiry; tests inject a manual clock. */
  clock?: SchedulerClock;
  limits?: Partial<ServerLimits>;
  /** The refresh grant; default: the real one (loaded on first use, so start-up stays light). */
  grant?: RefreshGrant;
  /** Runs a machine grant again (client_credentials, jwt_bearer); default: the real ones, loaded on first use. */
  regrant?: Regrant;
  /** Refreshes at once across all credentials. */
  refreshConcurrency?: number;
  /** Ceiling for one refresh's token request (default REFRESH_TIMEOUT_MS, 120 s); tests shorten it. */
  refreshTimeoutMs?: number;
  /**
   * Who may connect; default: the best check this machine offers
   * (daemon/peer-check.ts), refused on Linux and macOS when that is only the
   * fallback, unless `allowNoPeerCheck`. An injected checker is the caller's choice.
   */
  peerCheck?: PeerChecker;
  /** `--allow-no-peer-check`: run behind the directory permissions alone where a peer check should exist. */
  allowNoPeerCheck?: boolean;
  /** What `mcpauthd daemon` verified about core dumps before starting (daemon/process-hardening.ts), for status. */
  coreDumps?: CoreDumpProtection;
  /**
   * Where the database key comes from (issue 17): which provider (default
   * MCPAUTHD_KEY_PROVIDER, else `auto`: keychain, then key file) and the
   * sources themselves (default: the OS keychain and paths.keyFile).
   */
  keys?: { choice?: KeyProviderChoice; sources?: KeySources };
  /** The audit trail's bounds, or `enabled: false` (issue 18); default daemon/serve/audit.ts DEFAULT_AUDIT. */
  audit?: Partial<AuditSettings>;
  /** How a `confirm` policy asks; default: an askpass helper (daemon/os/askpass.ts) from this process's environment. */
  ask?: Asker;
  /** How long an approval given when asked lasts, and the quiet time after a refusal. */
  policy?: Partial<PolicySettings>;
}

export interface DaemonHandle {
  readonly info: DaemonInfo;
  readonly store: TokenStore;
  readonly server: SocketServer;
  readonly scheduler: RefreshScheduler;
  readonly refresher: TokenRefresher;
  /** The logins in progress. */
  readonly logins: LoginRegistry;
  readonly audit: AuditLog;
  readonly policy: PolicyService;
  close(): Promise<void>;
}

/** Grants loaded lazily: openid-client is imported the first time a token is refreshed. */
function lazyRefreshGrant(store: TokenStore, now: () => number, timeoutMs: number): RefreshGrant {
  let grant: Promise<RefreshGrant> | undefined;
  return async (input) => {
    grant ??= import('./refresh/refresh-grant.js').then((m) => m.createRefreshGrant({ store, now, timeoutMs }));
    return (await grant)(input);
  };
}

/** Regrants loaded lazily too (daemon/refresh/regrant.ts: one function per grant kind). */
function lazyRegrant(store: TokenStore, now: () => number, timeoutMs: number): Regrant {
  let regrant: Promise<Regrant> | undefined;
  return async (input) => {
    regrant ??= import('./refresh/regrant.js').then((m) => m.createRegrant({ store, now, timeoutMs }));
    return (await regrant)(input);
  };
}

/** Whether `work` settled within `ms` (the timer does not keep the process alive). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const { paths, logger } = options;
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const refreshTimeoutMs = options.refreshTimeoutMs ?? REFRESH_TIMEOUT_MS;
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
    const choice = options.keys?.choice ?? parseKeyProviderChoice(process.env['MCPAUTHD_KEY_PROVIDER']);
    const sources = options.keys?.sources ?? defaultKeySources(paths);
    store = TokenStore.open(paths.database, { now, dataKey: (sealedBy) => resolveDataKey({ sealedBy, choice, sources, database: paths.database }) });
    const encryption = store.encryption;
    if (encryption !== null) {
      for (const reason of encryption.passedOver) logger.warn('key provider passed over', { reason });
      if (encryption.keyCreated) logger.info('created the database key', { provider: encryption.provider, location: encryption.location });
      if (encryption.migratedValues > 0) logger.info('encrypted the secrets of a plaintext database', { values: encryption.migratedValues });
    }
    // koffi is loaded here, at start, and only in the daemon.
    let peerCheck = options.peerCheck;
    if (peerCheck === undefined) {
      peerCheck = await loadPeerChecker();
      assertPeerCheckAllowed(peerCheck, { allowNoPeerCheck: options.allowNoPeerCheck === true });
    }
    if (peerCheck.fallbackReason !== undefined) {
      logger.warn('cannot check who connects; only the socket directory permissions protect the socket', { reason: peerCheck.fallbackReason });
    }
    const info: DaemonInfo = {
      pid: process.pid,
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      socket: paths.socket,
      home: paths.home,
      started_at: Math.floor(now() / 1000),
      peer_check: peerCheck.mode,
      ...(options.coreDumps === undefined ? {} : { core_dumps: options.coreDumps }),
      callback_peer_check: callbackPeerCheckMode(),
      ...(encryption === null
        ? {}
        : { encryption: { provider: encryption.provider, location: encryption.location, ...(encryption.passedOver.length === 0 ? {} : { passed_over: encryption.passedOver }) } }),
    };
    const subscribers = new Subscribers();
    const openStore = store;
    const onChange: ChangeListener = (change, record) => {
      const current = openStore.findByResource(record.resource);
      subscribers.publish({
        resource: record.resource,
        change,
        state: current === undefined ? 'deleted' : effectiveState(current, now()),
        expires_at: current?.expiresAt == null ? null : Math.floor(current.expiresAt / 1000),
      });
    };
    const audit = new AuditLog({ table: new AuditTable(store.connection), now, logger, ...(options.audit === undefined ? {} : { settings: options.audit }) });
    const policy = new PolicyService({ table: new PolicyTable(store.connection), ask: options.ask ?? createAsker(), now, logger, ...(options.policy === undefined ? {} : { settings: options.policy }) });
    const processes = await loadProcessReader({ loadKoffi: importKoffi });
    const readProcess = cachedReader(processes.read, processes.identity);
    const refresher = new TokenRefresher({
      store,
      grant: options.grant ?? lazyRefreshGrant(store, now, refreshTimeoutMs),
      regrant: options.regrant ?? lazyRegrant(store, now, refreshTimeoutMs),
      logger,
      now,
      onChange,
      onRefresh: auditRefreshes(audit),
    });
    const scheduler = new RefreshScheduler({
      store,
      refresher,
      clock,
      logger,
      ...(options.refreshConcurrency === undefined ? {} : { concurrency: options.refreshConcurrency }),
    });
    const logins = new LoginRegistry();
    const handlers = createHandlers({ store, info, now, refresher, scheduler, subscribers, onChange, logger, logins, audit, policy });
    const server = new SocketServer({
      peerCheck,
      describeCaller: (pid) => describeCaller(pid, readProcess),
      socketPath: paths.socket,
      socketDir: paths.socketDir,
      logger,
      handle: (request, ctx) => dispatch(request, handlers, ctx),
      now,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    });
    await server.start();
    scheduler.start();
    logger.info('daemon started', { pid: info.pid, version: info.version, socket: paths.socket, home: paths.home, credentials: store.count(), peer_check: peerCheck.mode, key_provider: encryption?.provider, callback_peer_check: info.callback_peer_check });

    let closing: Promise<void> | undefined;
    return {
      info,
      store: openStore,
      server,
      scheduler,
      refresher,
      logins,
      audit,
      policy,
      close() {
        closing ??= (async () => {
          scheduler.stop();
          // A refresh the server may still answer must be committed before the
          // store closes, whoever started it; each one ends within its own
          // ceiling (metadata, then the token request), so the wait is bounded.
          const drainMs = HTTP_TIMEOUT_MS + refreshTimeoutMs;
          if (refresher.inFlightCount > 0) {
            logger.info('waiting for refreshes in flight before closing the store', { refreshes: refresher.inFlightCount, at_most_sec: Math.ceil(drainMs / 1000) });
          }
          await server.close();
          if (!(await settlesWithin(refresher.whenIdle(), drainMs))) {
            logger.warn('closing the store with a refresh still unanswered; its outcome is unknown', { refreshes: refresher.inFlightCount });
          }
          await scheduler.whenIdle();
          audit.close();
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
