/**
 * Where mcpauthd keeps its state and its socket. Pure: the environment and
 * platform are inputs, so tests can ask "what would macOS use".
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export const SOCKET_FILE_NAME = 'mcpauthd.sock';
export const DATABASE_FILE_NAME = 'mcpauthd.db';
export const PID_FILE_NAME = 'daemon.pid';

export interface PathInputs {
  home?: string | undefined;
  socket?: string | undefined;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  userHome?: string;
}

export interface Paths {
  /** State directory: the database and pid file live here. */
  home: string;
  database: string;
  pidFile: string;
  /** The socket's own directory (0700); the socket sits directly inside it. */
  socketDir: string;
  socket: string;
}

/** Resolves paths: flag, then environment, then the platform default. */
export function resolvePaths(inputs: PathInputs = {}): Paths {
  const env = inputs.env ?? process.env;
  const platform = inputs.platform ?? process.platform;
  const userHome = inputs.userHome ?? homedir();
  const home = absolute(inputs.home ?? nonEmpty(env['MCPAUTHD_HOME']) ?? defaultHome(env, platform, userHome));
  const socket = absolute(inputs.socket ?? nonEmpty(env['MCPAUTHD_SOCKET']) ?? defaultSocket(env, home));
  return {
    home,
    database: join(home, DATABASE_FILE_NAME),
    pidFile: join(home, PID_FILE_NAME),
    socketDir: resolve(socket, '..'),
    socket,
  };
}

function defaultHome(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, userHome: string): string {
  if (platform === 'darwin') return join(userHome, 'Library', 'Application Support', 'mcpauthd');
  const xdgState = nonEmpty(env['XDG_STATE_HOME']);
  // XDG says relative values are invalid and must be ignored.
  return join(xdgState !== undefined && isAbsolute(xdgState) ? xdgState : join(userHome, '.local', 'state'), 'mcpauthd');
}

function defaultSocket(env: NodeJS.ProcessEnv, home: string): string {
  const runtime = nonEmpty(env['XDG_RUNTIME_DIR']);
  if (runtime !== undefined && isAbsolute(runtime)) return join(runtime, 'mcpauthd', SOCKET_FILE_NAME);
  return join(home, 'run', SOCKET_FILE_NAME);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function absolute(path: string): string {
  return resolve(path);
}
