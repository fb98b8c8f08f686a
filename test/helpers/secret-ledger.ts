/**
 * The suite-wide secret ledger: every secret a test authorization server
 * issues, and every piece of output the tests capture (daemon logs, CLI
 * stdout and stderr, status output, error messages), land in one run
 * directory; test/global-teardown.ts then fails the run if any secret appears
 * in any output. The one place a token is meant to appear, the stdout of
 * `mcpauthd token`, is not recorded.
 *
 * Files, one set per process (jest workers, spawned helpers):
 * - secrets-<pid>.txt    one secret a line
 * - out-<pid>-<id>-<n>.log  one captured text; its first line names the source
 *
 * Without MCPAUTHD_TEST_LEDGER (the global setup did not run) every function
 * does nothing. The scan is in test/global-teardown.ts.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Also spelled out in test/global-setup.ts and test/global-teardown.ts, which jest
// loads without the test module mapping and so cannot import this file.
export const LEDGER_ENV = 'MCPAUTHD_TEST_LEDGER';

// Unique per module instance: jest evaluates this module afresh for every test file, in the same process.
const instance = randomUUID().slice(0, 8);
let counter = 0;

function outputFile(dir: string): string {
  counter += 1;
  return join(dir, `out-${process.pid}-${instance}-${counter}.log`);
}

function ledgerDir(): string | undefined {
  const dir = process.env[LEDGER_ENV];
  return dir === undefined || dir === '' ? undefined : dir;
}

function header(source: string): string {
  return `${source.replace(/[\r\n]/g, ' ').slice(0, 200)}\n`;
}

/** Records a secret a test server handed out. */
export function recordSecret(secret: string): void {
  const dir = ledgerDir();
  if (dir === undefined || secret === '' || /[\r\n]/.test(secret)) return;
  appendFileSync(join(dir, `secrets-${process.pid}.txt`), `${secret}\n`, { mode: 0o600 });
}

/** Records the private members of a private JWK (JSON), which a leaked key would show. */
export function recordPrivateJwk(json: string): void {
  const jwk = JSON.parse(json) as Record<string, unknown>;
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
    const value = jwk[member];
    if (typeof value === 'string') recordSecret(value);
  }
}

/** Records one finished piece of output (an error message, a status JSON, a log). */
export function recordOutput(source: string, text: string): void {
  const dir = ledgerDir();
  if (dir === undefined || text === '') return;
  writeFileSync(outputFile(dir), header(source) + text, { mode: 0o600 });
}

/**
 * A sink for output that arrives in chunks (a child's stderr): chunks go to one
 * file, so a secret split across two chunks is still found.
 */
export function outputStream(source: string): (chunk: string) => void {
  const dir = ledgerDir();
  if (dir === undefined) return () => undefined;
  const file = outputFile(dir);
  writeFileSync(file, header(source), { mode: 0o600 });
  return (chunk) => {
    if (chunk !== '') appendFileSync(file, chunk);
  };
}

/** A Set that also writes every secret added to it into the ledger (the AS fixture's issued-secrets set). */
export class LedgerSet extends Set<string> {
  override add(value: string): this {
    if (!this.has(value)) recordSecret(value);
    return super.add(value);
  }
}

