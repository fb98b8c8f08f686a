// The suite-wide secret check itself: that it is switched on for this run,
// that it finds a leaked secret wherever it lands in captured output, reports
// it without the value, and leaves out the one output meant to hold a token.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint, scanLedger } from './global-teardown.js';
import { ledgerCliOutput } from './helpers/daemon-process.js';
import { LEDGER_ENV, LedgerSet, outputStream, recordOutput, recordSecret } from './helpers/secret-ledger.js';

/** Runs `fn` with the ledger pointed at a fresh directory, and scans that directory. */
function withLedger(fn: () => void): ReturnType<typeof scanLedger> & { dir: string } {
  const saved = process.env[LEDGER_ENV];
  const dir = mkdtempSync(join(tmpdir(), 'mcpauthd-ledger-test-'));
  process.env[LEDGER_ENV] = dir;
  try {
    fn();
    return { ...scanLedger(dir), dir };
  } finally {
    process.env[LEDGER_ENV] = saved;
  }
}

const OPAQUE = 'Zk2vQ8xN1pLr7TyW3bHc9dJm4sFg6aKe0uYi5oXqRwE';
const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL2EuZXhhbXBsZS9tY3AifQ.c2lnbmF0dXJlLXZhbHVlLWhlcmU';

describe('secret ledger', () => {
  it('should be switched on for this run by the jest global setup', () => {
    expect(process.env[LEDGER_ENV]).toEqual(expect.stringContaining('mcpauthd-ledger-'));
  });

  it('should find a secret in a log line, after "Bearer", at the end of a sentence, inside JSON, and split across chunks', () => {
    const cases = [
      `{"level":"info","message":"got ${OPAQUE}"}`,
      `Authorization: Bearer ${JWT}`,
      `the token was ${JWT}.`,
      `refresh_token=${OPAQUE}&x=1`,
    ];
    for (const text of cases) {
      const scan = withLedger(() => {
        recordSecret(OPAQUE);
        recordSecret(JWT);
        recordOutput('case', text);
      });
      expect(scan.hits).toHaveLength(1);
      rmSync(scan.dir, { recursive: true });
    }
    const split = withLedger(() => {
      new LedgerSet().add(OPAQUE);
      const write = outputStream('daemon stderr');
      write(`{"message":"leaking ${OPAQUE.slice(0, 20)}`);
      write(`${OPAQUE.slice(20)} here"}\n`);
    });
    expect(split.hits).toEqual([{ fingerprint: fingerprint(OPAQUE), length: OPAQUE.length, source: 'daemon stderr', file: expect.any(String) }]);
    rmSync(split.dir, { recursive: true });
  });

  it('should report a leak by fingerprint only, and not flag masked or partial tokens', () => {
    const scan = withLedger(() => {
      recordSecret(OPAQUE);
      recordSecret(JWT);
      recordOutput('masked', `token [redacted-jwt], refresh [redacted], prefix ${OPAQUE.slice(0, 16)}`);
    });
    expect(scan).toMatchObject({ secrets: 2, outputs: 1, hits: [] });
    expect(fingerprint(OPAQUE)).toMatch(/^fp:[0-9a-f]{16}$/);
    expect(fingerprint(OPAQUE)).not.toContain(OPAQUE.slice(0, 8));
    rmSync(scan.dir, { recursive: true });
  });

  it('should leave out the stdout of `mcpauthd token`, and only that', () => {
    const scan = withLedger(() => {
      recordSecret(OPAQUE);
      ledgerCliOutput(['token', 'https://a.example/mcp'], { stdout: `${OPAQUE}\n`, stderr: '' });
      ledgerCliOutput(['--socket', '/x', 'token', 'https://a.example/mcp'], { stdout: `${OPAQUE}\n`, stderr: '' });
    });
    expect(scan.hits).toEqual([]);
    rmSync(scan.dir, { recursive: true });
    const status = withLedger(() => {
      recordSecret(OPAQUE);
      ledgerCliOutput(['status'], { stdout: `oops ${OPAQUE}\n`, stderr: '' });
      ledgerCliOutput(['token', 'https://a.example/mcp'], { stdout: '', stderr: `error ${OPAQUE}` });
    });
    expect(status.hits.map((h) => h.source).sort()).toEqual(['mcpauthd status (stdout)', 'mcpauthd token https://a.example/mcp (stderr)']);
    // The source labels (first lines) name the command, not what it printed.
    const labels = readdirSync(status.dir).filter((f) => f.startsWith('out-')).map((f) => readFileSync(join(status.dir, f), 'utf8').split('\n')[0] ?? '');
    expect(labels).toHaveLength(2);
    expect(labels.some((label) => label.includes(OPAQUE))).toBe(false);
    rmSync(status.dir, { recursive: true });
  });
});
