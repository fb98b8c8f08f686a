/**
 * jest globalSetup: creates the run's secret ledger (test/helpers/secret-ledger.ts)
 * and hands its directory to every worker and child process through the
 * environment. test/global-teardown.ts scans it. (jest loads this file
 * without the test module mapping: it imports nothing relative.)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
  // Owner-only: it will hold every secret the test servers issue.
  const dir = mkdtempSync(join(tmpdir(), 'mcpauthd-ledger-'));
  // Inherited by the jest workers and every process they spawn (test/helpers/secret-ledger.ts).
  process.env['MCPAUTHD_TEST_LEDGER'] = dir;
  // The database key (issue 17): a test daemon never reaches the user's keychain or
  // ~/.config/mcpauthd. Temp homes pin their own config directory; this is the net under
  // daemons started on other paths. The keychain's own test asks it directly.
  process.env['MCPAUTHD_KEY_PROVIDER'] ??= 'key_file';
  process.env['MCPAUTHD_CONFIG_DIR'] ??= join(dir, 'config');
}
