/**
 * Issue 12 item 12: the limits docs/protocol.md states are the daemon's. Each
 * row of its "Field limits" table names a constant; the largest number in the
 * row's limit must be that constant's value, and the request validator must
 * refuse one more.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_PENDING_LOGINS } from '../daemon/login/login-registry.js';
import * as protocol from '../shared/protocol/validate.js';
import { REPO_ROOT } from './helpers/daemon-process.js';

const doc = readFileSync(join(REPO_ROOT, 'docs', 'protocol.md'), 'utf8');

function limitsTable(): { field: string; limit: number; constant: string }[] {
  const section = doc.slice(doc.indexOf('### Field limits'));
  const rows = section.split('\n').filter((line) => /^\| .* \| `[A-Z_]+` \|$/.test(line));
  return rows.map((line) => {
    const cells = line.split(' | ');
    const numbers = (cells[1] ?? '').match(/\d+/g) ?? [];
    return { field: (cells[0] ?? '').replace(/^\| /, ''), limit: Math.max(...numbers.map(Number)), constant: (cells[2] ?? '').replace(/[`| ]/g, '') };
  });
}

const constants: Record<string, unknown> = { ...protocol, MAX_PENDING_LOGINS };

describe('docs/protocol.md field limits', () => {
  const rows = limitsTable();
  it('should list the limits', () => {
    expect(rows.length).toBeGreaterThanOrEqual(14);
  });
  it.each(rows.map((r) => [r.field, r] as const))('%s: should state the value of its constant', (_field, row) => {
    expect(constants[row.constant]).toBe(row.limit);
  });

  const request = (method: string, params: Record<string, unknown>) => protocol.parseRequest({ v: 1, id: 1, method, params });
  it('the validator should accept each limit and refuse one more', () => {
    const url = (n: number) => `https://a.example/${'p'.repeat(n - 'https://a.example/'.length)}`;
    const cases: [string, (n: number) => Record<string, unknown>, string, number][] = [
      ['token.get', (n) => ({ server_url: url(n) }), 'MAX_URL_LENGTH', protocol.MAX_URL_LENGTH],
      ['hello', (n) => ({ versions: Array.from({ length: n }, () => 1) }), 'MAX_VERSIONS', protocol.MAX_VERSIONS],
      ['token.get', (n) => ({ server_url: 'https://a.example/', scopes: Array.from({ length: n }, (_, i) => `s${i}`) }), 'MAX_SCOPES', protocol.MAX_SCOPES],
      ['token.get', (n) => ({ server_url: 'https://a.example/', scopes: ['s'.repeat(n)] }), 'MAX_SCOPE_LENGTH', protocol.MAX_SCOPE_LENGTH],
      ['token.get', (n) => ({ server_url: 'https://a.example/', min_ttl: n }), 'MAX_MIN_TTL_SEC', protocol.MAX_MIN_TTL_SEC],
      ['login', (n) => ({ server_url: 'https://a.example/', timeout: n }), 'MAX_LOGIN_TIMEOUT_SEC', protocol.MAX_LOGIN_TIMEOUT_SEC],
      ['login.callback', (n) => ({ login_id: 'x'.repeat(n), url: 'https://a.example/' }), 'MAX_LOGIN_ID_LENGTH', protocol.MAX_LOGIN_ID_LENGTH],
      ['status', (n) => ({ cursor: 'c'.repeat(n) }), 'MAX_CURSOR_LENGTH', protocol.MAX_CURSOR_LENGTH],
      ['idp.login', (n) => ({ issuer: 'https://idp.example', client_id: 'c', id_token: 't'.repeat(n) }), 'MAX_TOKEN_LENGTH', protocol.MAX_TOKEN_LENGTH],
    ];
    for (const [method, params, name, limit] of cases) {
      expect([name, request(method, params(limit)).ok]).toEqual([name, true]);
      expect([name, request(method, params(limit + 1)).ok]).toEqual([name, false]);
    }
  });

  it('should say ids are counted in UTF-16 code units: 64 astral characters are 128 units', () => {
    expect(doc).toContain('UTF-16 code units');
    const astral = '\u{1F600}'.repeat(64);
    expect(protocol.parseRequest({ v: 1, id: astral, method: 'status', params: {} }).ok).toBe(true);
    expect(protocol.parseRequest({ v: 1, id: `${astral}x`, method: 'status', params: {} }).ok).toBe(false);
  });

  it('should not document a timeout error code for a login that timed out', () => {
    expect(doc).toContain('`login_failed` with `data.reason: "timeout"`');
    expect(doc).toContain(`\`busy\` when ${MAX_PENDING_LOGINS} logins are already in progress`);
  });
});
