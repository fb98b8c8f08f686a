/**
 * What every benchmark section shares: where things are, throw-away state
 * directories, planting fake credentials, and the daemon as a real process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_NODE_OPTIONS } from '../../shared/daemon-launch.js';
import { resolvePaths, type Paths } from '../../shared/paths.js';

/** dist/scripts/bench → the repository. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DIST = join(REPO_ROOT, 'dist');
export const CLI = join(DIST, 'client', 'cli', 'main.js');
/** The executable users run (package.json "bin"): token and status load the CommonJS build from here. */
export const BIN = join(DIST, 'client', 'cli', 'bin.cjs');
export const BENCH_DIST = join(DIST, 'scripts', 'bench');

/**
 * Extra Node options for every process the bench starts (the daemons, the echo
 * servers, the load client): `--cpu-prof DIR` sets them so one run leaves a
 * CPU profile of each side. Empty by default.
 */
export const childNodeArgs: string[] = [];

/** Node/V8 flags for the servers only (daemons, daemon hosts, echo servers): `--node-args`. */
export const serverNodeArgs: string[] = [];

/** A daemon host (daemon-host.ts) runs the daemon in-process: the same Node options as `mcpauthd daemon`, plus gc(). */
export function daemonHostExecArgv(): string[] {
  return ['--expose-gc', ...DAEMON_NODE_OPTIONS, ...serverNodeArgs];
}

export interface BenchHome {
  root: string;
  paths: Paths;
  env: NodeJS.ProcessEnv;
  remove(): void;
}

const homes = new Set<BenchHome>();

export function makeHome(prefix: string): BenchHome {
  // Short paths: a Unix socket path must fit in about 100 bytes.
  const root = mkdtempSync(join(tmpdir(), `mab-${prefix}-`));
  const paths = resolvePaths({ home: join(root, 'h'), socket: join(root, 'r', 'd.sock'), config: join(root, 'c') });
  mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  mkdirSync(paths.socketDir, { recursive: true, mode: 0o700 });
  const home: BenchHome = {
    root,
    paths,
    // Default level (info): the daemon logs nothing per token.get, as in production.
    // The key file in the run's own directory (sealing on, as in production; the keychain left alone).
    env: { ...process.env, MCPAUTHD_HOME: paths.home, MCPAUTHD_SOCKET: paths.socket, MCPAUTHD_CONFIG_DIR: paths.configDir, MCPAUTHD_KEY_PROVIDER: 'key_file', MCPAUTHD_LOG_LEVEL: 'info' },
    remove: () => {
      homes.delete(home);
      rmSync(root, { recursive: true, force: true });
    },
  };
  homes.add(home);
  return home;
}

export function removeAllHomes(): void {
  for (const home of [...homes]) home.remove();
}

/** The MCP server URL of fake credential `i` (the resource is the same URL). */
export function fakeServerUrl(i: number): string {
  return FAKE_SERVER_URL_TEMPLATE.replace('{i}', String(i));
}

/** fakeServerUrl as a template, for the load client to fill with random indexes. */
export const FAKE_SERVER_URL_TEMPLATE = 'https://mcp.bench.example/mcp/{i}';

/** A JWT-sized fake access token (about 900 characters, like oidc-provider's ES256 tokens). */
export function fakeAccessToken(i: number): string {
  const body = Buffer.from(JSON.stringify({ i, aud: fakeServerUrl(i), pad: 'x'.repeat(560) })).toString('base64url');
  return `eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.${body}.${'s'.repeat(86)}`;
}

/**
 * Writes `count` credentials straight into the store (one transaction), with
 * expiry and refresh far in the future: nothing gets refreshed during a run.
 */
export async function plantCredentials(home: BenchHome, count: number): Promise<{ ms: number }> {
  const { TokenStore } = await import('../../daemon/store/token-store.js');
  const { Secret } = await import('../../daemon/store/secret.js');
  const previous = process.umask(0o077);
  const started = performance.now();
  const store = TokenStore.open(home.paths.database);
  try {
    const now = Date.now();
    const day = 24 * 3600 * 1000;
    store.transaction(() => {
      for (let i = 0; i < count; i++) {
        const url = fakeServerUrl(i);
        store.saveCredential({
          resource: url,
          serverUrl: url,
          issuer: `https://auth${i % 97}.bench.example`,
          clientId: `client-${i % 97}`,
          scopes: ['mcp:tools'],
          accessToken: new Secret(fakeAccessToken(i)),
          tokenType: 'Bearer',
          expiresAt: now + 60 * day,
          refreshToken: new Secret(`rt-${i}-${'r'.repeat(40)}`),
          // Spread like real jittered refresh times, all far away.
          refreshAt: now + 30 * day + ((i * 7919) % day),
        });
      }
    });
  } finally {
    store.close();
    process.umask(previous);
  }
  return { ms: performance.now() - started };
}

/** Resident memory of a process from /proc (Linux), in MB (10^6 bytes): current and peak. */
export function procMemory(pid: number): { rssMB: number; hwmMB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMB: (kb('VmRSS') * 1024) / 1e6, hwmMB: (kb('VmHWM') * 1024) / 1e6 };
  } catch {
    return null;
  }
}

export interface DaemonProc {
  child: ChildProcess;
  pid: number;
  /** Spawn → its ready line on stdout, in ms. */
  readyMs: number;
  stderr(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** `mcpauthd daemon` as a real process, as `npm start` or a service manager starts it (with DAEMON_NODE_OPTIONS). */
export function startDaemonProcess(home: BenchHome, timeoutMs = 30_000, args: readonly string[] = []): Promise<DaemonProc> {
  return startReadyProcess([...DAEMON_NODE_OPTIONS, CLI, 'daemon', ...args], 'mcpauthd ready', { env: home.env, timeoutMs, name: 'the daemon' });
}

/**
 * Spawns `node <args>` (after the bench's own Node options) and resolves once
 * it prints `readyLine` on stdout: the daemon, or the echo server.
 */
export function startReadyProcess(args: string[], readyLine: string, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; name?: string } = {}): Promise<DaemonProc> {
  const { env = process.env, timeoutMs = 15_000, name = args.join(' ') } = options;
  const started = performance.now();
  const child = spawn(process.execPath, [...childNodeArgs, ...serverNodeArgs, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not print "${readyLine}" within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (out.includes(readyLine)) return;
      out += d;
      if (!out.includes(readyLine)) return;
      clearTimeout(timer);
      resolve({
        child,
        pid: child.pid as number,
        readyMs: performance.now() - started,
        stderr: () => err,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready:\n${err}`));
    });
  });
}

/** Last resort on the way out: our own children only, by pid. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
