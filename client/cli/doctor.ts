/**
 * `mcpauthd doctor`: checks what makes mcpauthd work on this machine and says
 * how to fix each problem. Daemon-side facts (its version, the credentials and
 * their issuers) come from the daemon over the socket: doctor loads no daemon
 * or database code, so it works when those are the broken part.
 *
 * A check is `fail` when mcpauthd cannot work or is unsafe as it is, `warn`
 * when something may be intended but is worth knowing (no service installed),
 * `skip` when it cannot run (no daemon to ask). Any `fail` makes the exit
 * status non-zero.
 */
import { isAuthdError } from '../../shared/errors.js';
import type { Paths } from '../../shared/paths.js';
import { PROTOCOL_VERSION, type HelloResult, type StatusResult } from '../../shared/protocol/types.js';
import { type CredentialSummary } from '../../shared/protocol/credential-types.js';
import { VERSION } from '../../shared/version.js';
import { Connection } from '../connection.js';
import { coreDumpCheck } from './doctor-core-dumps.js';
import { encryptionCheck } from './doctor-encryption.js';
import { requestFullStatus } from '../status-pages.js';
import { inspectService, type ServiceContext, type ServiceState } from './install-service.js';
import { probeAuthorizationServer, type ProbeResult } from './metadata-probe.js';
import { loginCallbackCheck } from './login-callback-check.js';
import { nodeSupport } from './node-support.js';
import { checkPrivatePath } from './private-path-check.js';
import { describeHiddenPaths, LAUNCHD_LABEL, SYSTEMD_UNIT_NAME } from './service-unit.js';
import { needsLogin } from './needs-login.js';
import { relativeTime, uptime } from './status-format.js';
import { painter, type Tone } from './terminal-color.js';

import type { CheckStatus, DoctorCheck } from './doctor-check.js';

export type { CheckStatus, DoctorCheck } from './doctor-check.js';

export interface DoctorReport {
  version: string;
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  paths: Paths;
  /** undefined on a platform without a supported service manager. */
  service: ServiceContext | undefined;
  now?: () => number;
  fetchImpl?: typeof fetch;
  metadataTimeoutMs?: number;
  daemonTimeoutMs?: number;
  /** The Node.js version to judge; default this process's (the one install-service puts in the unit). */
  nodeVersion?: string;
  /** Default process.platform (tests: the macOS answer of login_callback). */
  platform?: NodeJS.Platform;
}

export const METADATA_TIMEOUT_MS = 5_000;
export const DAEMON_TIMEOUT_MS = 3_000;
/** More than this between our clock and an authorization server's breaks token lifetimes and JWT checks. */
export const MAX_CLOCK_SKEW_SEC = 120;
/** No correct clock reads earlier than this (before mcpauthd existed). */
const CLOCK_FLOOR_MS = Date.UTC(2025, 0, 1);

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const now = options.now ?? Date.now;
  const checks: DoctorCheck[] = [nodeCheck(options.nodeVersion ?? process.versions.node), ...pathChecks(options.paths)];
  const service = options.service === undefined ? undefined : inspectServiceSafely(options.service);
  const daemon = await askDaemon(options.paths.socketCandidates, options.daemonTimeoutMs ?? DAEMON_TIMEOUT_MS);
  checks.push(...daemonChecks(daemon, service, options.service?.uid, now()));
  checks.push(serviceCheck(service, options.service?.uid));
  checks.push(loginCallbackCheck(options.platform));

  const credentials = daemon.kind === 'up' ? daemon.status.credentials : undefined;
  const issuers = [...new Set((credentials ?? []).map((c) => c.issuer))];
  const probes = await Promise.all(
    issuers.map(async (issuer) => ({
      issuer,
      probe: await probeAuthorizationServer(issuer, { timeoutMs: options.metadataTimeoutMs ?? METADATA_TIMEOUT_MS, ...(options.fetchImpl === undefined ? {} : { fetchImpl: options.fetchImpl }) }),
    })),
  );
  checks.push(clockCheck(now(), probes));
  if (credentials === undefined) {
    checks.push({ id: 'credential', status: 'skip', message: 'credentials not checked: the daemon did not answer' });
  } else if (credentials.length === 0) {
    checks.push({ id: 'credential', status: 'ok', message: 'no credentials yet', fix: 'log in with: mcpauthd login <mcp-server-url>' });
  } else {
    checks.push(...credentials.map((c) => credentialCheck(c, now())));
    checks.push(...probes.map(({ issuer, probe }) => authorizationServerCheck(issuer, probe, credentials)));
  }
  return { version: VERSION, ok: checks.every((c) => c.status !== 'fail'), checks };
}

// ---------------------------------------------------------------- paths

function pathChecks(paths: Paths): DoctorCheck[] {
  const items: { id: string; path: string; kind: 'directory' | 'file'; what: string }[] = [
    { id: 'state_directory', path: paths.home, kind: 'directory', what: 'state directory' },
    { id: 'database', path: paths.database, kind: 'file', what: 'database' },
    { id: 'socket_directory', path: paths.socketDir, kind: 'directory', what: 'socket directory' },
  ];
  return items.map(({ id, path, kind, what }) => {
    const finding = checkPrivatePath(path, kind);
    if (finding.state === 'ok') return { id, status: 'ok', message: `${what} ${path} is private (${finding.mode})` };
    if (finding.state === 'missing') return { id, status: 'ok', message: `${what} ${path} does not exist yet; the daemon creates it owner-only` };
    return { id, status: 'fail', message: `${what}: ${finding.problem}`, fix: finding.fix };
  });
}

// ---------------------------------------------------------------- daemon

type DaemonAnswer =
  | { kind: 'up'; hello: HelloResult; status: StatusResult }
  | { kind: 'down'; message: string; code: string };

async function askDaemon(socket: readonly string[], timeoutMs: number): Promise<DaemonAnswer> {
  const connection = new Connection(socket);
  try {
    const hello = await connection.request('hello', { versions: [PROTOCOL_VERSION], client: `mcpauthd doctor ${VERSION}` }, { timeoutMs });
    const status = await requestFullStatus(connection, timeoutMs);
    return { kind: 'up', hello, status };
  } catch (err) {
    return { kind: 'down', message: (err as Error).message, code: isAuthdError(err) ? err.code : 'internal' };
  } finally {
    connection.close();
  }
}

/** A Node.js that is past its end of life or not supported still runs mcpauthd, so it is a warning. */
function nodeCheck(version: string): DoctorCheck {
  const verdict = nodeSupport(version);
  return {
    id: 'node',
    status: verdict.support === 'supported' ? 'ok' : 'warn',
    message: verdict.message,
    ...(verdict.fix === undefined ? {} : { fix: verdict.fix }),
  };
}

function startCommand(service: ServiceState | undefined, uid: number | undefined, restart: boolean): string {
  if (service?.installed === true && service.manager === 'systemd') return `systemctl --user ${restart ? 'restart' : 'start'} ${SYSTEMD_UNIT_NAME}`;
  if (service?.installed === true && service.manager === 'launchd') return `launchctl kickstart${restart ? ' -k' : ''} gui/${uid ?? '$(id -u)'}/${LAUNCHD_LABEL}`;
  return restart ? 'stop the running "mcpauthd daemon" and start it again' : 'mcpauthd daemon (or install the service: mcpauthd install-service)';
}

function daemonChecks(daemon: DaemonAnswer, service: ServiceState | undefined, uid: number | undefined, nowMs: number): DoctorCheck[] {
  if (daemon.kind === 'down') {
    if (daemon.code === 'unsupported_version') {
      return [
        { id: 'daemon', status: 'ok', message: 'the daemon answers' },
        { id: 'version', status: 'fail', message: `the daemon does not speak protocol ${PROTOCOL_VERSION}: ${daemon.message}`, fix: `restart it so it runs this version: ${startCommand(service, uid, true)}` },
      ];
    }
    const fix = daemon.code === 'INSECURE_SOCKET' ? 'make the socket directory yours and 0700 (see the message), then start the daemon' : `start it: ${startCommand(service, uid, false)}`;
    return [
      { id: 'daemon', status: 'fail', message: `the daemon is not reachable: ${daemon.message}`, fix },
      { id: 'version', status: 'skip', message: 'version not compared: the daemon did not answer' },
    ];
  }
  const { hello, status } = daemon;
  const up = uptime(Math.floor(nowMs / 1000) - status.daemon.started_at);
  const checks: DoctorCheck[] = [{ id: 'daemon', status: 'ok', message: `the daemon answers on ${status.daemon.socket} (pid ${hello.pid}, up ${up})` }];
  if (hello.version === VERSION) {
    checks.push({ id: 'version', status: 'ok', message: `the daemon and this CLI are both ${VERSION}` });
  } else {
    checks.push({
      id: 'version',
      status: 'fail',
      message: `the daemon runs mcpauthd ${hello.version} but this CLI is ${VERSION} (upgraded without restarting the daemon?)`,
      fix: `restart the daemon: ${startCommand(service, uid, true)}`,
    });
  }
  checks.push(coreDumpCheck(status.daemon));
  checks.push(encryptionCheck(status.daemon));
  return checks;
}

// ---------------------------------------------------------------- service

function inspectServiceSafely(ctx: ServiceContext): ServiceState | undefined {
  try {
    return inspectService(ctx);
  } catch {
    return undefined; // an unsupported platform: reported by serviceCheck
  }
}

function serviceCheck(service: ServiceState | undefined, uid: number | undefined): DoctorCheck {
  if (service === undefined) return { id: 'service', status: 'skip', message: 'no supported service manager on this platform (systemd or launchd)' };
  const name = service.manager === 'systemd' ? `the systemd user unit ${service.path}` : `the LaunchAgent ${service.path}`;
  if (!service.installed) {
    return { id: 'service', status: 'warn', message: 'no service installed: the daemon runs only while you start it yourself', fix: 'mcpauthd install-service' };
  }
  if (service.hiddenByPrivateTmp.length > 0) {
    const { problem, fix } = describeHiddenPaths(service.hiddenByPrivateTmp);
    return { id: 'service', status: 'fail', message: `${name} pins paths clients cannot see: ${problem}`, fix };
  }
  if (service.enabled === false) {
    const fix =
      service.manager === 'systemd'
        ? `systemctl --user enable --now ${SYSTEMD_UNIT_NAME}`
        : `launchctl bootstrap gui/${uid ?? '$(id -u)'} ${JSON.stringify(service.path)}`;
    return { id: 'service', status: 'warn', message: `${name} is installed but not ${service.manager === 'systemd' ? 'enabled' : 'loaded'}: it will not start at login`, fix };
  }
  if (!service.current) {
    return {
      id: 'service',
      status: 'warn',
      message: `${name} differs from what install-service writes now (node or mcpauthd moved, or other --home/--socket)`,
      fix: 'mcpauthd install-service (with the same --home/--socket you use)',
    };
  }
  return { id: 'service', status: 'ok', message: `${name} is installed and ${service.enabled === undefined ? 'present' : service.manager === 'systemd' ? 'enabled' : 'loaded'}` };
}

// ---------------------------------------------------------------- clock

function clockCheck(nowMs: number, probes: { issuer: string; probe: ProbeResult }[]): DoctorCheck {
  const fix = 'turn on time synchronisation (Linux: timedatectl set-ntp true; macOS: System Settings > General > Date & Time)';
  if (nowMs < CLOCK_FLOOR_MS) {
    return { id: 'clock', status: 'fail', message: `the system clock says ${new Date(nowMs).toISOString()}, which cannot be right`, fix };
  }
  const skews = probes
    .filter((p) => p.probe.serverDateMs !== undefined)
    .map((p) => ({ issuer: p.issuer, skewSec: Math.round((nowMs - (p.probe.serverDateMs as number)) / 1000) }));
  if (skews.length === 0) return { id: 'clock', status: 'ok', message: `the system clock reads ${new Date(nowMs).toISOString()} (no server to compare it with)` };
  const worst = skews.reduce((a, b) => (Math.abs(b.skewSec) > Math.abs(a.skewSec) ? b : a));
  if (Math.abs(worst.skewSec) > MAX_CLOCK_SKEW_SEC) {
    const direction = worst.skewSec > 0 ? 'ahead of' : 'behind';
    return {
      id: 'clock',
      status: 'fail',
      message: `the system clock is ${formatSkew(Math.abs(worst.skewSec))} ${direction} ${worst.issuer}: tokens will look valid or expired at the wrong time`,
      fix,
    };
  }
  return { id: 'clock', status: 'ok', message: `the system clock agrees with ${skews.length === 1 ? 'the authorization server' : `${skews.length} authorization servers`} (within ${MAX_CLOCK_SKEW_SEC} s)` };
}

function formatSkew(seconds: number): string {
  return seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
}

// ---------------------------------------------------------------- credentials

function credentialCheck(c: CredentialSummary, nowMs: number): DoctorCheck {
  const server = c.server_urls[0] ?? c.resource;
  const base = { id: 'credential', subject: c.resource };
  if (needsLogin(c)) {
    const why = c.last_error ?? (c.state === 'expired' ? 'it expired and there is no refresh token' : 'the refresh token was rejected');
    return { ...base, status: 'fail', message: `${server} needs a new login: ${why}`, fix: `mcpauthd login ${server}` };
  }
  switch (c.state) {
    case 'error':
      return {
        ...base,
        status: 'warn',
        message: `${server}: the last refresh failed (${c.last_error ?? 'no reason recorded'}); next attempt ${relativeTime(c.next_attempt_at, nowMs)}`,
        fix: `usually temporary; if it keeps failing, check the authorization server below, or log in again: mcpauthd login ${server}`,
      };
    case 'expired':
      return { ...base, status: 'warn', message: `${server}: the access token expired ${relativeTime(c.expires_at, nowMs)}; it is refreshed when next used`, fix: `mcpauthd refresh ${server}` };
    default:
      return { ...base, status: 'ok', message: `${server}: ${c.state}${c.expires_at === null ? '' : `, expires ${relativeTime(c.expires_at, nowMs)}`}` };
  }
}

function authorizationServerCheck(issuer: string, probe: ProbeResult, credentials: CredentialSummary[]): DoctorCheck {
  const base = { id: 'authorization_server', subject: issuer };
  if (probe.ok) return { ...base, status: 'ok', message: `${issuer} answers (${probe.url})` };
  const using = credentials.filter((c) => c.issuer === issuer);
  const logins = using.map((c) => `mcpauthd login ${c.server_urls[0] ?? c.resource}`).join('; ');
  const fixes: Record<typeof probe.kind, string> = {
    network: `check the network, proxy or VPN; until it answers, ${using.length === 1 ? 'its credential' : `its ${using.length} credentials`} cannot be refreshed`,
    insecure: `mcpauthd reaches authorization servers over https only (plain http only on loopback); if the server moved, log in again: ${logins}`,
    answer: `the server answered, but not with its metadata: if it moved, log in again: ${logins}`,
  };
  return { ...base, status: 'fail', message: `cannot read the metadata of ${issuer}: ${probe.reason}`, fix: fixes[probe.kind] };
}

// ---------------------------------------------------------------- output

const LABEL: Record<CheckStatus, { text: string; tone: Tone }> = {
  ok: { text: 'ok', tone: 'good' },
  warn: { text: 'warn', tone: 'warn' },
  fail: { text: 'FAIL', tone: 'bad' },
  skip: { text: 'skip', tone: 'dim' },
};

export function formatDoctorReport(report: DoctorReport, color: boolean): string {
  const paint = painter(color);
  const lines = report.checks.map((c) => {
    const label = LABEL[c.status];
    const head = `${paint(label.tone, label.text.padEnd(4))}  ${c.message}`;
    return c.fix === undefined || c.status === 'ok' ? head : `${head}\n      fix: ${c.fix}`;
  });
  const failures = report.checks.filter((c) => c.status === 'fail').length;
  const warnings = report.checks.filter((c) => c.status === 'warn').length;
  const summary =
    failures === 0
      ? `no problems found${warnings === 0 ? '' : ` (${warnings} warning${warnings === 1 ? '' : 's'})`}`
      : `${failures} problem${failures === 1 ? '' : 's'} found${warnings === 0 ? '' : `, ${warnings} warning${warnings === 1 ? '' : 's'}`}`;
  return `mcpauthd doctor ${report.version}\n\n${lines.join('\n')}\n\n${summary}\n`;
}
