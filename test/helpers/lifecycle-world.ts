/**
 * The real system the lifecycle model test drives: one oidc-provider
 * authorization server (rotating refresh tokens, short access tokens) with
 * fault switches, real MCP SDK servers as the protected resources, and the
 * daemon as a child process started from dist/ (restartable after SIGTERM or
 * SIGKILL). Everything that happened is kept as a timeline, so an invariant
 * check can say which step a violation belongs to.
 */
import { McpAuthdClient } from '../../client/index.js';
import { startAuthServer, type AuthServer } from '../fixtures/auth-server.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';
import { startDaemonProcess, type DaemonProcess } from './daemon-process.js';
import { makeTempHome, type TempHome } from './temp-home.js';

/** What the authorization server's token endpoint does right now. */
/** 'down' resets every connection at accept; 'reset' reads a token request, then drops the connection unanswered. */
export type FaultKind = 'none' | 'slow' | 'stall' | 'down' | 'reset' | '5xx' | 'invalid_grant' | 'narrow';

/** The scopes a 'narrow' server cuts every refreshed grant down to. */
export const NARROWED_SCOPE = 'mcp:tools';

/** A slow token endpoint, well inside the daemon's HTTP timeout: refreshes stay in flight across steps. */
export const SLOW_TOKEN_MS = 1_500;

/** One thing the test did to the system, with when it did it. */
export interface TimelineEntry {
  at: number;
  what: string;
}

export interface WorldOptions {
  resources: number;
  accessTokenTtlSec: number;
  /** How long a stall holds the token endpoint (longer than the daemon's 10 s HTTP timeout). */
  stallMs: number;
}

/** An asynchronous call still waiting for its answer when its step ended. */
type Pending = Promise<void>;

export class LifecycleWorld {
  readonly as: AuthServer;
  readonly servers: McpTestServer[];
  readonly options: WorldOptions;
  home: TempHome | undefined;
  daemon: DaemonProcess | undefined;
  client: McpAuthdClient | undefined;
  fault: FaultKind = 'none';
  /** When the current stall ends by itself (kill -CONT), epoch ms. */
  stallEndsAt: number | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  readonly timeline: TimelineEntry[] = [];
  /** SIGKILL moments of this run (epoch ms, taken just before the signal). */
  readonly kills: number[] = [];
  /** SIGTERM moments of this run. */
  readonly terms: number[] = [];
  /** The faults of this run, in order. */
  readonly faultsApplied: FaultKind[] = [];
  /** Invariant violations found outside a step's own checks (late answers of pending calls). */
  readonly violations: string[] = [];
  readonly #pending = new Set<Pending>();
  /** Daemon output of earlier processes of this run, for the failure report. */
  readonly #pastStderr: string[] = [];

  private constructor(as: AuthServer, servers: McpTestServer[], options: WorldOptions) {
    this.as = as;
    this.servers = servers;
    this.options = options;
  }

  static async start(options: WorldOptions): Promise<LifecycleWorld> {
    const as = await startAuthServer({ accessTokenTtlSec: options.accessTokenTtlSec });
    const servers: McpTestServer[] = [];
    for (let i = 0; i < options.resources; i++) servers.push(await startMcpServer({ authServer: as, resourcePath: `/m${i}` }));
    return new LifecycleWorld(as, servers, options);
  }

  get resources(): string[] {
    return this.servers.map((s) => s.url);
  }

  note(what: string): void {
    this.timeline.push({ at: Date.now(), what });
  }

  /** A fresh state directory and daemon: every run starts from nothing. */
  async beginRun(): Promise<void> {
    this.timeline.length = 0;
    this.kills.length = 0;
    this.terms.length = 0;
    this.faultsApplied.length = 0;
    this.violations.length = 0;
    this.#pastStderr.length = 0;
    this.as.clearRequests();
    this.home = makeTempHome('mcpauthd-mbt-');
    await this.startDaemon();
  }

  async startDaemon(): Promise<void> {
    const home = this.home as TempHome;
    this.daemon = await startDaemonProcess(home.env);
    // Long client timeout: a call held by a stalled server is tracked as pending, not failed by us.
    this.client = new McpAuthdClient({ socket: home.paths.socket, timeoutMs: 150_000 });
    this.note(`daemon started pid ${this.daemon.pid}`);
  }

  /** Stops the daemon with `signal` and starts a new one on the same state directory. */
  async restart(signal: 'SIGTERM' | 'SIGKILL', maxShutdownMs: number): Promise<{ code: number | null; shutdownMs: number }> {
    const daemon = this.daemon as DaemonProcess;
    const at = Date.now();
    (signal === 'SIGKILL' ? this.kills : this.terms).push(at);
    this.note(`${signal} pid ${daemon.pid}`);
    const timer = setTimeout(() => daemon.child.kill('SIGKILL'), maxShutdownMs);
    const code = await daemon.stop(signal);
    clearTimeout(timer);
    const shutdownMs = Date.now() - at;
    this.#pastStderr.push(daemon.stderr());
    this.client?.close();
    this.client = undefined;
    this.daemon = undefined;
    await this.startDaemon();
    return { code, shutdownMs };
  }

  setFault(kind: FaultKind): void {
    this.note(`fault ${kind}`);
    this.fault = kind;
    if (kind === 'stall') {
      this.as.setStalled(true);
      this.stallEndsAt = Date.now() + this.options.stallMs;
      // Like kill -CONT after the stall: held requests reach oidc-provider, which answers them.
      this.#stallTimer = setTimeout(() => this.#endStall(), this.options.stallMs);
    } else if (kind === 'slow') {
      this.as.setTokenDelayMs(SLOW_TOKEN_MS);
    } else if (kind === 'down') {
      this.as.setRefusing(true);
    } else if (kind === '5xx') {
      this.as.setDown(Math.random() < 0.5 ? '503' : '500');
    } else if (kind === 'reset') {
      this.as.setDown('reset');
    } else if (kind === 'invalid_grant') {
      this.as.setDown('invalid_grant');
    } else if (kind === 'narrow') {
      this.as.setRefreshScope(NARROWED_SCOPE);
    }
    this.faultsApplied.push(kind);
  }

  #endStall(): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.stallEndsAt = undefined;
    this.as.setStalled(false);
  }

  /** Ends the current fault; a stall ends only when its time is up (it must outlast the HTTP timeout). */
  async heal(): Promise<void> {
    if (this.fault === 'stall' && this.stallEndsAt !== undefined) {
      const left = this.stallEndsAt - Date.now();
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      this.#endStall();
    }
    this.as.setRefusing(false);
    this.as.setDown(false);
    this.as.setTokenDelayMs(0);
    this.as.setRefreshScope(null);
    this.fault = 'none';
    this.note('healed');
  }

  /** Keeps a call running past its step; its checks report into `violations`. */
  track(call: Promise<void>): void {
    const tracked = call.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Waits for `call` up to `ms`; if it has not settled by then it stays tracked. */
  async settleWithin(call: Promise<void>, ms: number): Promise<void> {
    this.track(call);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([call, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  async drainPending(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Everything the daemons of this run wrote to stderr (debug log lines). */
  daemonLog(): string {
    return [...this.#pastStderr, this.daemon?.stderr() ?? ''].join('\n');
  }

  /** Ends the run: faults off, daemon stopped (by force if it hangs), state removed. */
  async endRun(): Promise<void> {
    if (this.fault !== 'none') await this.heal();
    const daemon = this.daemon;
    if (daemon !== undefined) {
      const timer = setTimeout(() => daemon.child.kill('SIGKILL'), 30_000);
      await daemon.stop('SIGTERM');
      clearTimeout(timer);
    }
    this.client?.close();
    await this.drainPending();
    this.client = undefined;
    this.daemon = undefined;
    this.home?.remove();
    this.home = undefined;
  }

  async stop(): Promise<void> {
    for (const server of this.servers) await server.stop();
    await this.as.stop();
  }
}
