/**
 * `mcpauthd install-service`: puts the daemon under the user's service
 * manager (systemd --user on Linux, launchd on macOS), or takes it away.
 * Re-running is idempotent: an unchanged definition is not rewritten and a
 * running service is restarted only when its definition changed.
 *
 * Everything about the machine (platform, environment, tools) comes in
 * through ServiceContext, so tests run it in a temporary HOME with a stub
 * systemctl on PATH and never touch the real system.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { AuthdError } from '../../shared/errors.js';
import { RUN_USER_BASE, userRuntimeDir, type Paths } from '../../shared/paths.js';
import { findOnPath, showCommand, spawnRunner, type CommandRunner } from './run-command.js';
import {
  LAUNCHD_LABEL,
  LAUNCHD_LOG_DIR_NAME,
  SERVICE_ENVIRONMENT,
  SYSTEMD_UNIT_NAME,
  describeHiddenPaths,
  launchdPlistPath,
  pathsHiddenByPrivateTmp,
  pinnedPathsOfUnit,
  renderLaunchdPlist,
  renderSystemdUnit,
  systemdUnitPath,
  type HiddenPath,
  type ServiceInputs,
} from './service-unit.js';

export interface ServiceContext {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** The user's home directory (where ~/.config and ~/Library are). */
  userHome: string;
  uid: number;
  paths: Paths;
  nodePath: string;
  cliPath: string;
  /** Absolute path of a tool on PATH, or undefined. */
  which(name: string): string | undefined;
  run: CommandRunner;
  /** A line of progress for the user. */
  say(line: string): void;
}

export interface ServiceDefinition {
  manager: 'systemd' | 'launchd';
  /** Where the definition file goes. */
  path: string;
  text: string;
}

/**
 * What install-service writes (and --print shows). Refuses, with the fix, a
 * systemd unit whose pinned paths its PrivateTmp=yes would hide.
 */
export function serviceDefinition(ctx: ServiceContext): ServiceDefinition {
  const def = buildDefinition(ctx);
  if (def.manager === 'systemd') {
    const hidden = pathsHiddenByPrivateTmp(ctx.paths);
    if (hidden.length > 0) {
      const { problem, fix } = describeHiddenPaths(hidden);
      throw new AuthdError('USAGE', `refusing to install: ${problem}; ${fix}`);
    }
  }
  return def;
}

function buildDefinition(ctx: ServiceContext): ServiceDefinition {
  const runtime = ctx.env['XDG_RUNTIME_DIR'];
  const inputs: ServiceInputs = {
    nodePath: ctx.nodePath,
    cliPath: ctx.cliPath,
    home: ctx.paths.home,
    socket: ctx.paths.socket,
    socketDir: ctx.paths.socketDir,
    // Without XDG_RUNTIME_DIR (a shell without a login session) the default socket
    // may still be in /run/user/<uid>, which is what systemd's runtime directory is.
    runtimeDir: runtime !== undefined && isAbsolute(runtime) ? resolve(runtime) : ctx.platform === 'linux' ? userRuntimeDir(RUN_USER_BASE, ctx.uid) : undefined,
    configDir: ctx.paths.configDir,
    environment: carriedEnvironment(ctx.env),
  };
  if (ctx.platform === 'linux') return { manager: 'systemd', path: systemdUnitPath(ctx.env, ctx.userHome), text: renderSystemdUnit(inputs) };
  if (ctx.platform === 'darwin') return { manager: 'launchd', path: launchdPlistPath(ctx.userHome), text: renderLaunchdPlist(inputs) };
  throw new Error(`install-service knows systemd (Linux) and launchd (macOS), not ${ctx.platform}; run "mcpauthd daemon" under your own supervisor`);
}

/** SERVICE_ENVIRONMENT's variables set (not empty) where install-service runs: the daemon keeps them as it runs now. */
function carriedEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const carried: Record<string, string> = {};
  for (const name of SERVICE_ENVIRONMENT) {
    const value = env[name];
    if (value !== undefined && value !== '') carried[name] = value;
  }
  return carried;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Creates a missing directory 0700 (by mkdir itself, no chmod window). An existing one is left alone: the daemon and doctor judge it. */
function ensureDirectory(path: string): void {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Written beside the target and renamed over it, so a crash never leaves half a unit. */
function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    // Not secret (paths only), and the service manager reads it as the user.
    writeFileSync(temp, text, { mode: 0o644 });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

// ---------------------------------------------------------------- install

export interface ServiceOutcome {
  ok: boolean;
}

export function installService(ctx: ServiceContext): ServiceOutcome {
  const def = serviceDefinition(ctx);
  // The sandbox (ReadWritePaths=) and launchd's log file need these to exist before the daemon starts.
  ensureDirectory(ctx.paths.home);
  // The key file is made here at the first start; under systemd's ProtectHome=read-only only an existing directory can be made writable.
  ensureDirectory(ctx.paths.configDir);
  if (def.manager === 'launchd') ensureDirectory(join(ctx.paths.home, LAUNCHD_LOG_DIR_NAME));
  if (!def.text.includes('RuntimeDirectory=')) ensureDirectory(ctx.paths.socketDir);

  const previous = readOrNull(def.path);
  const changed = previous !== def.text;
  if (changed) {
    writeAtomically(def.path, def.text);
    ctx.say(`${previous === null ? 'wrote' : 'updated'} ${def.path}`);
  } else {
    ctx.say(`${def.path} is up to date`);
  }
  return def.manager === 'systemd' ? startSystemd(ctx, changed, previous !== null) : startLaunchd(ctx, def.path, changed);
}

const SYSTEMCTL_START: readonly (readonly string[])[] = [
  ['--user', 'daemon-reload'],
  ['--user', 'enable', '--now', SYSTEMD_UNIT_NAME],
];

function startSystemd(ctx: ServiceContext, changed: boolean, existed: boolean): ServiceOutcome {
  const systemctl = ctx.which('systemctl');
  const manual = () => SYSTEMCTL_START.map((args) => `  ${showCommand('systemctl', [...args])}`).join('\n');
  if (systemctl === undefined) {
    ctx.say(`systemctl is not on PATH; to start the service, run:\n${manual()}`);
    return { ok: true };
  }
  const steps: string[][] = [...(changed ? [['--user', 'daemon-reload']] : []), ['--user', 'enable', '--now', SYSTEMD_UNIT_NAME]];
  // A running daemon keeps its old command line until restarted; try-restart leaves a stopped one stopped.
  if (changed && existed) steps.push(['--user', 'try-restart', SYSTEMD_UNIT_NAME]);
  for (const args of steps) {
    const result = ctx.run(systemctl, args);
    if (result.status !== 0) {
      ctx.say(`"${showCommand('systemctl', args)}" failed: ${oneLine(result.stderr) || `exit status ${String(result.status)}`}`);
      ctx.say(`the unit is installed; once the user service manager is reachable, run:\n${manual()}`);
      return { ok: false };
    }
  }
  ctx.say(`${SYSTEMD_UNIT_NAME} is enabled and started; check it with: mcpauthd status (logs: journalctl --user -u mcpauthd)`);
  return { ok: true };
}

function startLaunchd(ctx: ServiceContext, plist: string, changed: boolean): ServiceOutcome {
  const domain = `gui/${ctx.uid}`;
  const target = `${domain}/${LAUNCHD_LABEL}`;
  const launchctl = ctx.which('launchctl');
  const manual = `  ${showCommand('launchctl', ['enable', target])}\n  ${showCommand('launchctl', ['bootstrap', domain, plist])}`;
  if (launchctl === undefined) {
    ctx.say(`launchctl is not on PATH; to start the agent, run:\n${manual}`);
    return { ok: true };
  }
  const loaded = ctx.run(launchctl, ['print', target]).status === 0;
  if (loaded && !changed) {
    ctx.say(`${LAUNCHD_LABEL} is loaded; check it with: mcpauthd status`);
    return { ok: true };
  }
  // launchd reads a plist only when it is bootstrapped: a changed one needs bootout first.
  if (loaded) ctx.run(launchctl, ['bootout', target]);
  for (const args of [['enable', target], ['bootstrap', domain, plist]]) {
    const result = ctx.run(launchctl, args);
    if (result.status !== 0) {
      ctx.say(`"${showCommand('launchctl', args)}" failed: ${oneLine(result.stderr) || `exit status ${String(result.status)}`}`);
      ctx.say(`the agent is installed; to start it, run:\n${manual}`);
      return { ok: false };
    }
  }
  ctx.say(`${LAUNCHD_LABEL} is loaded and starts at login; check it with: mcpauthd status (logs: ${join(ctx.paths.home, LAUNCHD_LOG_DIR_NAME)})`);
  return { ok: true };
}

// ---------------------------------------------------------------- uninstall

export function uninstallService(ctx: ServiceContext): ServiceOutcome {
  // Never refused: a unit with bad paths must still be removable.
  const def = buildDefinition(ctx);
  if (!existsSync(def.path)) {
    ctx.say(`no service installed (${def.path} does not exist)`);
    return { ok: true };
  }
  if (def.manager === 'systemd') {
    const systemctl = ctx.which('systemctl');
    if (systemctl !== undefined) {
      const args = ['--user', 'disable', '--now', SYSTEMD_UNIT_NAME];
      const result = ctx.run(systemctl, args);
      if (result.status !== 0) {
        // Removing the file now would leave a daemon running that nothing can stop by name.
        ctx.say(`"${showCommand('systemctl', args)}" failed: ${oneLine(result.stderr) || `exit status ${String(result.status)}`}; the unit was left in place`);
        return { ok: false };
      }
    }
    unlinkSync(def.path);
    removeOwnLink(join(dirname(def.path), 'default.target.wants', SYSTEMD_UNIT_NAME), def.path);
    if (systemctl !== undefined) {
      ctx.run(systemctl, ['--user', 'daemon-reload']);
      ctx.run(systemctl, ['--user', 'reset-failed', SYSTEMD_UNIT_NAME]);
    }
  } else {
    const launchctl = ctx.which('launchctl');
    // Fails harmlessly when the agent is not loaded.
    if (launchctl !== undefined) ctx.run(launchctl, ['bootout', `gui/${ctx.uid}/${LAUNCHD_LABEL}`]);
    unlinkSync(def.path);
  }
  ctx.say(`stopped and removed ${def.path}`);
  return { ok: true };
}

/** The enable symlink, when systemctl was not there to remove it; only if it points at our unit. */
function removeOwnLink(link: string, target: string): void {
  try {
    if (lstatSync(link).isSymbolicLink() && resolve(dirname(link), readlinkSync(link)) === target) unlinkSync(link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

// ---------------------------------------------------------------- inspection (doctor)

export interface ServiceState {
  manager: 'systemd' | 'launchd';
  path: string;
  installed: boolean;
  /** Starts at login (systemd: enabled; launchd: loaded). undefined when it cannot be told. */
  enabled: boolean | undefined;
  /** The installed file equals what install-service would write now (same node, CLI and paths). */
  current: boolean;
  /** Paths the installed systemd unit pins under /tmp or /var/tmp, which its PrivateTmp=yes hides from clients. */
  hiddenByPrivateTmp: HiddenPath[];
}

export function inspectService(ctx: ServiceContext): ServiceState {
  const def = buildDefinition(ctx);
  const text = readOrNull(def.path);
  const hiddenByPrivateTmp = text !== null && def.manager === 'systemd' && /^PrivateTmp=(yes|true|on|1)$/m.test(text) ? hiddenInUnit(text) : [];
  const base = { manager: def.manager, path: def.path, installed: text !== null, current: text === def.text, hiddenByPrivateTmp };
  if (text === null) return { ...base, enabled: false };
  if (def.manager === 'systemd') {
    // What `systemctl --user enable` creates for WantedBy=default.target; reading it needs no bus.
    return { ...base, enabled: existsSync(join(dirname(def.path), 'default.target.wants', SYSTEMD_UNIT_NAME)) };
  }
  const launchctl = ctx.which('launchctl');
  return { ...base, enabled: launchctl === undefined ? undefined : ctx.run(launchctl, ['print', `gui/${ctx.uid}/${LAUNCHD_LABEL}`]).status === 0 };
}

function hiddenInUnit(text: string): HiddenPath[] {
  const pinned = pinnedPathsOfUnit(text);
  return pathsHiddenByPrivateTmp({ home: pinned.home ?? '', socket: pinned.socket ?? '', configDir: pinned.configDir });
}

function oneLine(text: string): string {
  return text.trim().split('\n').filter((l) => l.trim() !== '').slice(-2).join(' ').slice(0, 300);
}

/** The context of the machine this process runs on. */
export function localServiceContext(options: { paths: Paths; cliPath: string; say(line: string): void }): ServiceContext {
  const env = process.env;
  return {
    platform: process.platform,
    env,
    userHome: homedir(),
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    paths: options.paths,
    nodePath: process.execPath,
    cliPath: options.cliPath,
    which: (name) => findOnPath(name, env),
    run: spawnRunner(env),
    say: options.say,
  };
}
