/**
 * The service definitions `mcpauthd install-service` writes: a systemd user
 * unit on Linux, a LaunchAgent property list on macOS. Pure: paths in, text
 * out, so tests can check the text with the real tools and `--print` shows
 * exactly what would be installed.
 *
 * Both pin the state directory and the socket on the command line, and the
 * config directory (where the database key file lives) in the environment:
 * the systemd sandbox makes only those paths writable, so the daemon must not
 * work them out differently from the environment it happens to start in.
 * The key provider and askpass helper chosen at install time are carried too.
 */
import { isAbsolute, join } from 'node:path';
import { DAEMON_NODE_OPTIONS } from '../../shared/daemon-launch.js';

export const SYSTEMD_UNIT_NAME = 'mcpauthd.service';
/** The LaunchAgent's label; its plist is `~/Library/LaunchAgents/<label>.plist`. */
export const LAUNCHD_LABEL = 'io.github.mcpauthd.mcpauthd';
/** Directory under the state directory for launchd's stdout/stderr capture. */
export const LAUNCHD_LOG_DIR_NAME = 'logs';
export const LAUNCHD_LOG_FILE_NAME = 'daemon.log';
/** The name RuntimeDirectory= creates under $XDG_RUNTIME_DIR, as shared/paths.ts places the socket. */
const RUNTIME_DIR_NAME = 'mcpauthd';

export interface ServiceInputs {
  /** The node binary that runs the daemon (absolute). */
  nodePath: string;
  /** dist/client/cli/main.js (absolute). */
  cliPath: string;
  /** State directory (absolute). */
  home: string;
  /** Socket path and its directory (absolute). */
  socket: string;
  socketDir: string;
  /** $XDG_RUNTIME_DIR when set and absolute: a socket directly below it is created by systemd. */
  runtimeDir?: string | undefined;
  /** The config directory: the database key file is made there at the first start (absolute). */
  configDir: string;
  /** Further variables the daemon needs as it was installed (SERVICE_ENVIRONMENT names only). */
  environment?: Readonly<Record<string, string>> | undefined;
}

/** The variables an installed daemon keeps from `install-service`'s environment, when set there. */
export const SERVICE_ENVIRONMENT = ['MCPAUTHD_KEY_PROVIDER', 'MCPAUTHD_ASKPASS'] as const;

/** Every variable the service sets: the pinned config directory, then what install-service carried. */
function serviceEnvironment(inputs: ServiceInputs): [string, string][] {
  const carried = SERVICE_ENVIRONMENT.flatMap((name): [string, string][] => {
    const value = inputs.environment?.[name];
    return value === undefined ? [] : [[name, value]];
  });
  return [['MCPAUTHD_CONFIG_DIR', inputs.configDir], ...carried];
}

function checkPath(value: string, name: string): void {
  if (typeof value !== 'string' || !isAbsolute(value)) {
    throw Object.assign(new TypeError(`"${name}" must be an absolute path`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  // A newline would start a new directive in the unit; no real path has one.
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw Object.assign(new TypeError(`"${name}" contains a control character`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
}

function checkInputs(inputs: ServiceInputs): void {
  checkPath(inputs.nodePath, 'nodePath');
  checkPath(inputs.cliPath, 'cliPath');
  checkPath(inputs.home, 'home');
  checkPath(inputs.socket, 'socket');
  checkPath(inputs.socketDir, 'socketDir');
  checkPath(inputs.configDir, 'configDir');
  if (inputs.runtimeDir !== undefined) checkPath(inputs.runtimeDir, 'runtimeDir');
  for (const [name, value] of Object.entries(inputs.environment ?? {})) {
    if (!(SERVICE_ENVIRONMENT as readonly string[]).includes(name)) throw Object.assign(new TypeError(`"${name}" is not a variable the service carries`), { code: 'ERR_INVALID_ARG_VALUE' });
    if (/[\x00-\x1f\x7f]/.test(value)) throw Object.assign(new TypeError(`"${name}" contains a control character`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
}

/** The directories `PrivateTmp=yes` replaces with the service's own, empty ones. */
export const PRIVATE_TMP_DIRS: readonly string[] = ['/tmp', '/var/tmp'];

export interface HiddenPath {
  what: 'state directory' | 'socket' | 'config directory';
  path: string;
  /** The private directory it is under: /tmp or /var/tmp. */
  under: string;
}

/**
 * The pinned paths the unit's PrivateTmp=yes would hide: the daemon would
 * make its database and socket in its own /tmp, where no client looks.
 */
export function pathsHiddenByPrivateTmp(pinned: { home: string; socket: string; configDir?: string | undefined }): HiddenPath[] {
  const hidden: HiddenPath[] = [];
  const paths: [HiddenPath['what'], string][] = [['state directory', pinned.home], ['socket', pinned.socket]];
  if (pinned.configDir !== undefined) paths.push(['config directory', pinned.configDir]);
  for (const [what, path] of paths) {
    const under = PRIVATE_TMP_DIRS.find((dir) => isInside(path, dir));
    if (under !== undefined) hidden.push({ what, path, under });
  }
  return hidden;
}

/** Why such paths cannot be used by the unit, and what to do instead. */
export function describeHiddenPaths(hidden: readonly HiddenPath[]): { problem: string; fix: string } {
  const list = hidden.map((h) => `the ${h.what} ${h.path} is under ${h.under}`).join(', and ');
  return {
    problem: `${list}: the service runs with PrivateTmp=yes, so the daemon would get its own empty ${hidden[0]?.under ?? '/tmp'} and no client would find its socket or credentials`,
    fix: 'use paths outside /tmp and /var/tmp, e.g. mcpauthd install-service --home ~/.local/state/mcpauthd (and no --socket: the default follows the state or runtime directory; MCPAUTHD_CONFIG_DIR unset: ~/.config/mcpauthd)',
  };
}

/** The --home and --socket an installed unit's ExecStart pins, and its MCPAUTHD_CONFIG_DIR (undefined when absent), unquoted as renderSystemdUnit quoted them. */
export function pinnedPathsOfUnit(unitText: string): { home: string | undefined; socket: string | undefined; configDir: string | undefined } {
  const unquote = (line: string): string[] => [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] as string).replace(/\\(.)/g, '$1').replace(/%%/g, '%').replace(/\$\$/g, '$'));
  const lines = unitText.split('\n');
  const words = unquote(lines.find((line) => line.startsWith('ExecStart=')) ?? '');
  const after = (flag: string): string | undefined => {
    const i = words.indexOf(flag);
    return i >= 0 ? words[i + 1] : undefined;
  };
  const config = lines.filter((line) => line.startsWith('Environment=')).flatMap(unquote).find((word) => word.startsWith('MCPAUTHD_CONFIG_DIR='));
  return { home: after('--home'), socket: after('--socket'), configDir: config?.slice('MCPAUTHD_CONFIG_DIR='.length) };
}

/** The daemon's argv after the node binary: Node's own options, then the CLI. */
export function daemonArguments(inputs: ServiceInputs): string[] {
  return [...DAEMON_NODE_OPTIONS, inputs.cliPath, 'daemon', '--home', inputs.home, '--socket', inputs.socket];
}

/** One word of a systemd setting: quoted, with specifiers (%) and, on command lines, variables ($) made literal. */
function systemdWord(value: string, commandLine: boolean): string {
  let escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  if (commandLine) escaped = escaped.replace(/\$/g, '$$$$');
  return `"${escaped}"`;
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`);
}

/**
 * Where the socket directory comes from under the sandbox: systemd's
 * RuntimeDirectory= when it is $XDG_RUNTIME_DIR/mcpauthd (it exists only while
 * the user is logged in, so systemd must create it), the state directory
 * when it is inside it, otherwise its own writable path.
 */
function socketDirSettings(inputs: ServiceInputs): string[] {
  if (inputs.runtimeDir !== undefined && inputs.socketDir === join(inputs.runtimeDir, RUNTIME_DIR_NAME)) {
    return ['RuntimeDirectory=mcpauthd', 'RuntimeDirectoryMode=0700'];
  }
  if (isInside(inputs.socketDir, inputs.home)) return [];
  return [`ReadWritePaths=${systemdWord(inputs.socketDir, false)}`];
}

/** The config directory is written once, when the first start makes the key file (install-service creates the directory). */
function configDirSettings(inputs: ServiceInputs): string[] {
  return isInside(inputs.configDir, inputs.home) ? [] : [`ReadWritePaths=${systemdWord(inputs.configDir, false)}`];
}

/** The systemd user unit (`~/.config/systemd/user/mcpauthd.service`). */
export function renderSystemdUnit(inputs: ServiceInputs): string {
  checkInputs(inputs);
  const exec = [inputs.nodePath, ...daemonArguments(inputs)].map((w) => systemdWord(w, true)).join(' ');
  const writable = [`ReadWritePaths=${systemdWord(inputs.home, false)}`, ...socketDirSettings(inputs), ...configDirSettings(inputs)].join('\n');
  const environment = serviceEnvironment(inputs)
    .map(([name, value]) => `Environment=${systemdWord(`${name}=${value}`, false)}`)
    .join('\n');
  return `# Written by "mcpauthd install-service". Run it again after moving node or
# mcpauthd; remove the service with "mcpauthd install-service --uninstall".
[Unit]
Description=mcpauthd: MCP OAuth credential daemon

[Service]
Type=exec
ExecStart=${exec}
# Where the database key is, and how it was chosen, as at install time.
${environment}
# The daemon exits non-zero only when it could not start or crashed.
Restart=on-failure
RestartSec=2
# SIGTERM lets requests in flight finish (up to 10 s) and a refresh the
# authorization server may still answer commit (up to 130 s) before the daemon exits.
TimeoutStopSec=150
# Everything the daemon creates (database, socket, pid file) is owner-only.
UMask=0077
# Tokens are in this process's memory: never write it to a core dump (as ssh-agent).
LimitCORE=0
NoNewPrivileges=yes
# In a user service, PrivateTmp, ProtectSystem, ProtectHome and ReadWritePaths
# need unprivileged user namespaces: status 226/NAMESPACE means the kernel forbids them.
PrivateTmp=yes
# Read-only everywhere except the state, socket and config directories.
ProtectSystem=strict
ProtectHome=read-only
${writable}
LockPersonality=yes
# The socket, and HTTPS to authorization servers.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
# No MemoryDenyWriteExecute=: it breaks V8's JIT compiler and node would not start.

[Install]
WantedBy=default.target
`;
}

function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** launchd's stdout/stderr file for the daemon: in the state directory, where nobody else can read it. */
export function launchdLogPath(home: string): string {
  return join(home, LAUNCHD_LOG_DIR_NAME, LAUNCHD_LOG_FILE_NAME);
}

/** The LaunchAgent (`~/Library/LaunchAgents/<label>.plist`). */
export function renderLaunchdPlist(inputs: ServiceInputs): string {
  checkInputs(inputs);
  const args = [inputs.nodePath, ...daemonArguments(inputs)].map((a) => `\t\t<string>${xmlText(a)}</string>`).join('\n');
  const log = xmlText(launchdLogPath(inputs.home));
  const environment = serviceEnvironment(inputs)
    .map(([name, value]) => `\t\t<key>${xmlText(name)}</key>\n\t\t<string>${xmlText(value)}</string>`)
    .join('\n');
  // KeepAlive/SuccessfulExit=false restarts after a crash, not after a clean
  // stop (systemd's Restart=on-failure). Umask 63 is 0077. Core limits 0 keep
  // tokens out of crash dumps.
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>Label</key>
\t<string>${LAUNCHD_LABEL}</string>
\t<key>ProgramArguments</key>
\t<array>
${args}
\t</array>
\t<key>EnvironmentVariables</key>
\t<dict>
${environment}
\t</dict>
\t<key>RunAtLoad</key>
\t<true/>
\t<key>KeepAlive</key>
\t<dict>
\t\t<key>SuccessfulExit</key>
\t\t<false/>
\t</dict>
\t<key>ExitTimeOut</key>
\t<integer>150</integer>
\t<key>Umask</key>
\t<integer>63</integer>
\t<key>SoftResourceLimits</key>
\t<dict>
\t\t<key>Core</key>
\t\t<integer>0</integer>
\t</dict>
\t<key>HardResourceLimits</key>
\t<dict>
\t\t<key>Core</key>
\t\t<integer>0</integer>
\t</dict>
\t<key>StandardOutPath</key>
\t<string>${log}</string>
\t<key>StandardErrorPath</key>
\t<string>${log}</string>
</dict>
</plist>
`;
}

/** `$XDG_CONFIG_HOME/systemd/user/mcpauthd.service`, where systemd looks for user units. */
export function systemdUnitPath(env: NodeJS.ProcessEnv, userHome: string): string {
  const config = env['XDG_CONFIG_HOME'];
  // XDG says relative values are invalid and must be ignored.
  const base = config !== undefined && config !== '' && isAbsolute(config) ? config : join(userHome, '.config');
  return join(base, 'systemd', 'user', SYSTEMD_UNIT_NAME);
}

export function launchdPlistPath(userHome: string): string {
  return join(userHome, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}
