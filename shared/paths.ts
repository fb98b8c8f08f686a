/**
 * Where mcpauthd keeps its state and its socket. The environment, platform and
 * user are inputs, so tests can ask "what would macOS use"; the one look at the
 * filesystem (is /run/user/<uid> ours?) can be replaced by a test.
 *
 * The daemon listens on the first candidate; a client tries every candidate in
 * order. MCP clients start stdio servers with a filtered environment (the SDKs
 * keep HOME, USER, PATH… but not XDG_RUNTIME_DIR), so the runtime directory is
 * also derived from the user's identity, /run/user/<uid>, as gpg does for its
 * sockets: daemon and clients then agree whatever their environment.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { currentUid } from './owner-only.js';
import { describePrivateDirProblem } from './socket-check.js';

export const SOCKET_FILE_NAME = 'mcpauthd.sock';
export const DATABASE_FILE_NAME = 'mcpauthd.db';
export const PID_FILE_NAME = 'daemon.pid';
/** The database key when it lives in a file (issue 17): in the config directory, never beside the database. */
export const KEY_FILE_NAME = 'database.key';
/** Where systemd-logind creates each user's runtime directory. */
export const RUN_USER_BASE = '/run/user';

export interface PathInputs {
  home?: string | undefined;
  socket?: string | undefined;
  /** The config directory (the key file's); default MCPAUTHD_CONFIG_DIR, then $XDG_CONFIG_HOME/mcpauthd or ~/.config/mcpauthd. */
  config?: string | undefined;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  userHome?: string;
  /**
   * The user's runtime directory when XDG_RUNTIME_DIR is unset; null for none.
   * Default: `userRuntimeDir()`, /run/user/<uid> when it is ours and 0700.
   */
  userRuntimeDir?: string | null;
}

export interface Paths {
  /** State directory: the database and pid file live here. */
  home: string;
  database: string;
  pidFile: string;
  /** The socket's own directory (0700); the socket sits directly inside it. */
  socketDir: string;
  /** Where the daemon listens. */
  socket: string;
  /**
   * Where a client looks, in order: `socket` first. Only the default has more
   * than one: $XDG_RUNTIME_DIR, /run/user/<uid>, then the state directory.
   */
  socketCandidates: readonly string[];
  /** Config directory: the key file lives here, apart from the state directory. */
  configDir: string;
  /** The database key's file, when the key-file provider holds it. */
  keyFile: string;
}

/** Resolves paths: flag, then environment, then the platform default. */
export function resolvePaths(inputs: PathInputs = {}): Paths {
  const env = inputs.env ?? process.env;
  const platform = inputs.platform ?? process.platform;
  const userHome = inputs.userHome ?? homedir();
  const home = absolute(inputs.home ?? nonEmpty(env['MCPAUTHD_HOME']) ?? defaultHome(env, platform, userHome));
  const pinned = inputs.socket ?? nonEmpty(env['MCPAUTHD_SOCKET']);
  const socketCandidates = pinned !== undefined ? [absolute(pinned)] : defaultSockets(env, platform, home, inputs.userRuntimeDir);
  const socket = socketCandidates[0] as string;
  const configDir = absolute(inputs.config ?? nonEmpty(env['MCPAUTHD_CONFIG_DIR']) ?? defaultConfigDir(env, userHome));
  return {
    home,
    database: join(home, DATABASE_FILE_NAME),
    pidFile: join(home, PID_FILE_NAME),
    socketDir: resolve(socket, '..'),
    socket,
    socketCandidates,
    configDir,
    keyFile: join(configDir, KEY_FILE_NAME),
  };
}

/** XDG config on every platform (macOS too: there the keychain is the provider that is normally used). */
function defaultConfigDir(env: NodeJS.ProcessEnv, userHome: string): string {
  const xdgConfig = nonEmpty(env['XDG_CONFIG_HOME']);
  return join(xdgConfig !== undefined && isAbsolute(xdgConfig) ? xdgConfig : join(userHome, '.config'), 'mcpauthd');
}

/**
 * /run/user/<uid> when it is a real directory, ours, mode 0700 (the checks a
 * socket directory gets); undefined otherwise, or where there is no uid.
 */
export function userRuntimeDir(base: string = RUN_USER_BASE, uid: number | undefined = currentUid()): string | undefined {
  if (uid === undefined) return undefined;
  const dir = join(base, String(uid));
  return describePrivateDirProblem(dir, uid) === null ? dir : undefined;
}

function defaultHome(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, userHome: string): string {
  if (platform === 'darwin') return join(userHome, 'Library', 'Application Support', 'mcpauthd');
  const xdgState = nonEmpty(env['XDG_STATE_HOME']);
  // XDG says relative values are invalid and must be ignored.
  return join(xdgState !== undefined && isAbsolute(xdgState) ? xdgState : join(userHome, '.local', 'state'), 'mcpauthd');
}

function defaultSockets(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string, runtimeInput: string | null | undefined): string[] {
  const runtimes: string[] = [];
  const xdgRuntime = nonEmpty(env['XDG_RUNTIME_DIR']);
  if (xdgRuntime !== undefined && isAbsolute(xdgRuntime)) runtimes.push(resolve(xdgRuntime));
  // macOS has no /run/user; its state directory does not depend on the environment.
  if (platform !== 'darwin' && platform !== 'win32') {
    const derived = runtimeInput === undefined ? userRuntimeDir() : runtimeInput;
    if (derived !== null && derived !== undefined) runtimes.push(resolve(derived));
  }
  const candidates = runtimes.map((dir) => join(dir, 'mcpauthd', SOCKET_FILE_NAME));
  candidates.push(join(home, 'run', SOCKET_FILE_NAME));
  return [...new Set(candidates)];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function absolute(path: string): string {
  return resolve(path);
}
