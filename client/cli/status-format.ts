/**
 * `mcpauthd status` for people: the daemon in three lines, then one row per
 * credential a person can read at a glance. Pure: the clock and whether to use
 * colour are inputs, so every state can be checked against fixed text.
 * `status --json` prints the protocol's StatusResult unchanged; this module
 * is only the human form.
 */
import { DATABASE_FILE_NAME } from '../../shared/paths.js';
import { callbackPeerCheckText } from '../../shared/callback-peer-check.js';
import { KEY_PROVIDER_FACTS } from '../../shared/key-providers.js';
import type { StatusResult } from '../../shared/protocol/types.js';
import type { CredentialState, CredentialSummary } from '../../shared/protocol/credential-types.js';
import { painter, type Tone } from './terminal-color.js';
import { needsLogin } from './needs-login.js';

export interface StatusFormatOptions {
  /** The time to measure "in 41 min" from, in ms. */
  nowMs: number;
  color: boolean;
}

/** Longest scope list shown in full; longer lists are cut (`status --json` has them all). */
const MAX_SCOPES_WIDTH = 40;

/** "41 min", "3 h", "2 d": enough precision for a person. */
function roughDuration(seconds: number): string {
  const abs = Math.abs(seconds);
  if (abs < 90) return `${abs} s`;
  if (abs < 5400) return `${Math.round(abs / 60)} min`;
  if (abs < 172_800) return `${Math.round(abs / 3600)} h`;
  return `${Math.round(abs / 86_400)} d`;
}

/** "in 41 min" or "3 h ago"; "-" when there is no time. */
export function relativeTime(seconds: number | null, nowMs: number): string {
  if (seconds === null) return '-';
  const delta = seconds - Math.floor(nowMs / 1000);
  return delta >= 0 ? `in ${roughDuration(delta)}` : `${roughDuration(delta)} ago`;
}

/** Uptime with one more unit of precision than roughDuration: "3 h 12 min". */
export function uptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}


function expiry(c: CredentialSummary, nowMs: number): string {
  if (c.expires_at === null) return 'unknown';
  const delta = c.expires_at - Math.floor(nowMs / 1000);
  return delta > 0 ? `in ${roughDuration(delta)}` : `expired ${roughDuration(delta)} ago`;
}

/** When the daemon last refreshed it: "9 min ago", or "never" (only the login's token so far). */
function lastRefresh(c: CredentialSummary, nowMs: number): string {
  return c.last_refresh_at === null ? 'never' : relativeTime(c.last_refresh_at, nowMs);
}

function nextRefresh(c: CredentialSummary, nowMs: number): string {
  const now = Math.floor(nowMs / 1000);
  if (c.state === 'needs_login') return '-';
  if (!c.has_refresh_token) return 'never';
  if (c.state === 'refreshing') return 'running';
  if (c.state === 'error' && c.next_attempt_at !== null) return c.next_attempt_at <= now ? 'retry due' : `retry ${relativeTime(c.next_attempt_at, nowMs)}`;
  if (c.refresh_at === null) return '-';
  return c.refresh_at <= now ? 'due' : relativeTime(c.refresh_at, nowMs);
}

function stateTone(c: CredentialSummary): Tone {
  const tones: Record<CredentialState, Tone> = { valid: 'good', expiring: 'warn', refreshing: 'warn', error: 'warn', expired: 'warn', needs_login: 'bad' };
  return needsLogin(c) ? 'bad' : tones[c.state];
}

/** The last error, or what the state means when the daemon recorded none. */
function problem(c: CredentialSummary): string {
  if (c.last_error !== null && c.last_error !== '') return c.last_error;
  if (c.state === 'expired' && !c.has_refresh_token) return 'no refresh token: log in again';
  if (c.state === 'needs_login') return 'the refresh token was rejected: log in again';
  return '';
}

function serverOf(c: CredentialSummary): string {
  const [first, ...more] = c.server_urls;
  if (first === undefined) return c.resource;
  return more.length === 0 ? first : `${first} (+${more.length})`;
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

const PEER_CHECK_WORDS: Record<string, string> = {
  peercred: 'callers checked by uid',
  getpeereid: 'callers checked by uid',
  'directory-permissions-only': 'protected by directory permissions only',
};

/** One line per IdP session (enterprise-managed authorization) and the credentials that depend on it. */
export function idpLines(status: StatusResult, nowMs: number): string[] {
  return (status.idp_sessions ?? []).flatMap((s) => {
    const expired = s.id_token_expires_at !== null && s.id_token_expires_at * 1000 <= nowMs;
    const renewal = s.has_refresh_token ? 'renewed with its refresh token' : expired ? `sign in again: mcpauthd idp login ${s.issuer}` : 'no refresh token';
    const expiry = s.id_token_expires_at === null ? 'no expiry' : `ID token ${expired ? 'expired' : 'expires'} ${relativeTime(s.id_token_expires_at, nowMs)}`;
    return [
      `idp       ${s.issuer} (subject ${s.subject ?? 'unknown'}), ${expiry}, ${renewal}`,
      `          used by ${s.credentials.length === 0 ? 'no credential yet' : s.credentials.join(', ')}`,
    ];
  });
}

export function formatStatus(status: StatusResult, options: StatusFormatOptions): string {
  const paint = painter(options.color);
  const d = status.daemon;
  const up = uptime(Math.floor(options.nowMs / 1000) - d.started_at);
  const head = [
    `daemon    ${paint('good', 'running')}, pid ${d.pid}, version ${d.version}, up ${up}`,
    `socket    ${d.socket} (${PEER_CHECK_WORDS[d.peer_check] ?? d.peer_check})`,
    `database  ${d.home.replace(/\/+$/, '')}/${DATABASE_FILE_NAME}`,
    // Which key protects the stored secrets (issue 17); `mcpauthd doctor` explains the trade-off.
    d.encryption === undefined
      ? `secrets   ${paint('warn', 'not reported as encrypted (an older daemon)')}`
      : `secrets   encrypted, key in ${KEY_PROVIDER_FACTS[d.encryption.provider].label}: ${d.encryption.location}`,
    ...(d.callback_peer_check === undefined
      ? []
      : [`login     callback ${paint(d.callback_peer_check === 'state_only' ? 'warn' : 'good', callbackPeerCheckText(d.callback_peer_check))}`]),
    ...idpLines(status, options.nowMs),
  ].join('\n');
  if (status.credentials.length === 0) return `${head}\n\nno credentials yet; log in with: mcpauthd login <mcp-server-url>\n`;

  const headers = ['SERVER', 'SCOPES', 'EXPIRES', 'LAST REFRESH', 'NEXT REFRESH', 'STATE', 'LAST ERROR'];
  const rows = status.credentials.map((c) => ({
    cells: [serverOf(c), cut(c.scopes.join(' ') || '-', MAX_SCOPES_WIDTH), expiry(c, options.nowMs), lastRefresh(c, options.nowMs), nextRefresh(c, options.nowMs), c.state, problem(c)],
    tone: stateTone(c),
  }));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] as string).length)));
  const STATE = headers.indexOf('STATE');
  // Widths count the text only: escape codes wrap the word, padding stays outside them.
  const line = (cells: string[], tone?: Tone) =>
    cells
      .map((cell, i) => {
        const padding = i === cells.length - 1 ? '' : ' '.repeat((widths[i] as number) - cell.length);
        return `${i === STATE && tone !== undefined ? paint(tone, cell) : cell}${padding}`;
      })
      .join('  ')
      .trimEnd();
  const table = [paint('dim', line(headers)), ...rows.map((r) => line(r.cells, r.tone))];

  const logins = status.credentials.filter(needsLogin);
  const footer =
    logins.length === 0
      ? ''
      : `\n${logins.length === 1 ? '1 credential needs' : `${logins.length} credentials need`} a new login:\n${logins
          .map((c) => `  mcpauthd login ${c.server_urls[0] ?? c.resource}`)
          .join('\n')}\n`;
  return `${head}\n\n${table.join('\n')}\n${usedBy(status)}${footer}`;
}

/** Who was served each credential's token in the last day (audit trail, issue 18); nothing from daemons without it. */
function usedBy(status: StatusResult): string {
  const used = status.credentials.filter((c) => (c.programs_last_day?.length ?? 0) > 0);
  if (used.length === 0) return '';
  return `\nused in the last day (mcpauthd audit shows each request):\n${used
    .map((c) => `  ${serverOf(c)}\n${(c.programs_last_day ?? []).map((p) => `    ${p}`).join('\n')}`)
    .join('\n')}\n`;
}
