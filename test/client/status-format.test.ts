/**
 * The human form of `mcpauthd status`, checked as whole text at a fixed clock
 * for every credential state, with and without colour.
 */
import { describe, expect, it } from '@jest/globals';
import { needsLogin } from '../../client/cli/needs-login.js';
import { formatStatus, relativeTime, uptime } from '../../client/cli/status-format.js';
import { shouldUseColor } from '../../client/cli/terminal-color.js';
import type { StatusResult } from '../../shared/protocol/types.js';
import type { CredentialSummary } from '../../shared/protocol/credential-types.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const s = Math.floor(NOW / 1000);
const base = { issuer: 'https://as.example.com', client_id: 'c1', has_refresh_token: true, last_refresh_at: null, next_attempt_at: null, last_error: null, created_at: s - 86_400, updated_at: s - 600 };
const credential = (c: Partial<CredentialSummary> & Pick<CredentialSummary, 'resource' | 'state'>): CredentialSummary => ({
  ...base,
  server_urls: [c.resource],
  scopes: ['read'],
  expires_at: null,
  refresh_at: null,
  ...c,
});

const STATUS: StatusResult = {
  daemon: { pid: 4242, version: '0.1.0', protocol: 1, socket: '/run/user/1000/mcpauthd/mcpauthd.sock', home: '/home/u/.local/state/mcpauthd', started_at: s - 3 * 3600 - 12 * 60, peer_check: 'peercred',
    encryption: { provider: 'key_file', location: '/home/u/.config/mcpauthd/database.key' } },
  credentials: [
    credential({ resource: 'https://a.example.com/mcp', scopes: ['mcp:tools', 'mcp:read'], state: 'valid', expires_at: s + 41 * 60, refresh_at: s + 31 * 60, last_refresh_at: s - 9 * 60 }),
    credential({ resource: 'https://b.example.com/mcp', server_urls: ['https://b.example.com/mcp', 'https://b.example.com/sse'], scopes: [], state: 'expiring', expires_at: s + 4 * 60, refresh_at: s - 30 }),
    credential({ resource: 'https://c.example.com/', server_urls: ['https://c.example.com/mcp'], state: 'refreshing', expires_at: s + 90, refresh_at: s - 60 }),
    credential({ resource: 'https://d.example.com/mcp', state: 'error', expires_at: s + 20 * 60, refresh_at: s - 600, next_attempt_at: s + 5 * 60, last_refresh_at: s - 2 * 86_400, last_error: 'token endpoint answered HTTP 503' }),
    credential({ resource: 'https://e.example.com/mcp', state: 'expired', expires_at: s - 3 * 3600, has_refresh_token: false }),
    credential({ resource: 'https://f.example.com/mcp', state: 'needs_login', expires_at: s - 2 * 86_400, last_error: 'invalid_grant: the refresh token was revoked' }),
    credential({ resource: 'https://g.example.com/mcp', server_urls: [], state: 'expired', expires_at: s - 120, refresh_at: s - 400 }),
    credential({ resource: 'https://h.example.com/mcp', state: 'valid' }),
  ],
  total: 8,
  next_cursor: null,
  next_offset: null,
};

describe('formatStatus()', () => {
  it('should show the daemon, one row per credential in every state, and the logins needed', () => {
    expect(formatStatus(STATUS, { nowMs: NOW, color: false })).toBe(
      `daemon    running, pid 4242, version 0.1.0, up 3 h 12 min
socket    /run/user/1000/mcpauthd/mcpauthd.sock (callers checked by uid)
database  /home/u/.local/state/mcpauthd/mcpauthd.db
secrets   encrypted, key in a key file in the config directory (0600): /home/u/.config/mcpauthd/database.key

SERVER                          SCOPES              EXPIRES            LAST REFRESH  NEXT REFRESH    STATE        LAST ERROR
https://a.example.com/mcp       mcp:tools mcp:read  in 41 min          9 min ago     in 31 min       valid
https://b.example.com/mcp (+1)  -                   in 4 min           never         due             expiring
https://c.example.com/mcp       read                in 2 min           never         running         refreshing
https://d.example.com/mcp       read                in 20 min          2 d ago       retry in 5 min  error        token endpoint answered HTTP 503
https://e.example.com/mcp       read                expired 3 h ago    never         never           expired      no refresh token: log in again
https://f.example.com/mcp       read                expired 2 d ago    never         -               needs_login  invalid_grant: the refresh token was revoked
https://g.example.com/mcp       read                expired 2 min ago  never         due             expired
https://h.example.com/mcp       read                unknown            never         -               valid

2 credentials need a new login:
  mcpauthd login https://e.example.com/mcp
  mcpauthd login https://f.example.com/mcp
`,
    );
  });

  it('should say how to start when there are no credentials', () => {
    expect(formatStatus({ ...STATUS, credentials: [] }, { nowMs: NOW, color: false })).toMatch(/secrets .*\n\nno credentials yet; log in with: mcpauthd login <mcp-server-url>\n$/);
  });

  it('with colour: should colour the state word only, so the columns stay aligned', () => {
    const text = formatStatus(STATUS, { nowMs: NOW, color: true });
    const lines = text.split('\n');
    expect(lines.find((l) => l.startsWith('https://a.'))).toBe('https://a.example.com/mcp       mcp:tools mcp:read  in 41 min          9 min ago     in 31 min       \x1b[32mvalid\x1b[0m');
    expect(lines.find((l) => l.startsWith('https://f.'))).toContain('\x1b[31mneeds_login\x1b[0m  invalid_grant');
    expect(lines.find((l) => l.startsWith('https://d.'))).toContain('\x1b[33merror\x1b[0m        token endpoint');
    // Without the escapes it is exactly the plain text.
    expect(text.replace(/\x1b\[\d+m/g, '')).toBe(formatStatus(STATUS, { nowMs: NOW, color: false }));
  });
});

describe('shouldUseColor()', () => {
  it('should colour a terminal only, and never when NO_COLOR is set to something', () => {
    expect(shouldUseColor({ isTTY: true }, {})).toBe(true);
    expect(shouldUseColor({ isTTY: false }, {})).toBe(false);
    expect(shouldUseColor({}, {})).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true); // no-color.org: empty means unset
  });
});

describe('needsLogin()', () => {
  it('should be true when the refresh token was rejected, or the token expired without one', () => {
    expect(STATUS.credentials.filter(needsLogin).map((c) => c.resource)).toEqual(['https://e.example.com/mcp', 'https://f.example.com/mcp']);
  });
});

describe('relativeTime() and uptime()', () => {
  it('should round to what a person needs', () => {
    expect(relativeTime(s + 41 * 60, NOW)).toBe('in 41 min');
    expect(relativeTime(s - 3 * 3600, NOW)).toBe('3 h ago');
    expect(relativeTime(s + 30, NOW)).toBe('in 30 s');
    expect(relativeTime(s + 3 * 86_400, NOW)).toBe('in 3 d');
    expect(relativeTime(null, NOW)).toBe('-');
    expect(uptime(45)).toBe('45 s');
    expect(uptime(20 * 60)).toBe('20 min');
    expect(uptime(3 * 3600 + 12 * 60 + 5)).toBe('3 h 12 min');
    expect(uptime(4 * 86_400 + 5 * 3600)).toBe('4 d 5 h');
  });
});

describe('formatStatus(): programs that used a credential (issue 18)', () => {
  it('lists, per credential, the programs served its token in the last day, and nothing without them', () => {
    const used: StatusResult = {
      ...STATUS,
      credentials: [
        credential({ resource: 'https://a.example.com/mcp', state: 'valid', programs_last_day: ['/usr/bin/python3.12 /home/u/sync.py', '/opt/Claude/claude'] }),
        credential({ resource: 'https://b.example.com/mcp', state: 'valid', programs_last_day: [] }),
      ],
      total: 2,
    };
    const text = formatStatus(used, { nowMs: NOW, color: false });
    expect(text).toContain(
      'used in the last day (mcpauthd audit shows each request):\n  https://a.example.com/mcp\n    /usr/bin/python3.12 /home/u/sync.py\n    /opt/Claude/claude\n',
    );
    expect(text).not.toContain('  https://b.example.com/mcp\n    ');
    expect(formatStatus(STATUS, { nowMs: NOW, color: false })).not.toContain('used in the last day');
  });
});
