/**
 * jest globalTeardown: fails the run when any secret a test authorization
 * server issued appears in any captured log, stdout, stderr, status output or
 * error message (see test/helpers/secret-ledger.ts). A leak is reported by
 * fingerprint and source, never by value. (jest loads this file without the
 * test module mapping: it imports nothing relative.)
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Shorter secrets are not scanned for: they would match ordinary words. */
export const MIN_SCANNED_SECRET_LENGTH = 12;

/** What a leak report may show of a secret: never the secret. */
export function fingerprint(secret: string): string {
  return `fp:${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`;
}

export interface LedgerHit {
  fingerprint: string;
  length: number;
  source: string;
  file: string;
}

export interface LedgerScan {
  secrets: number;
  outputs: number;
  bytes: number;
  hits: LedgerHit[];
}

/**
 * Scans every recorded output for every recorded secret. Outputs are split
 * into words of token characters (base64url, dots, `~`), and each word, with
 * surrounding dots trimmed and split at dots, is looked up in the set: linear
 * in the output size, however many secrets there are. Secrets are base64url
 * (opaque) or dot-separated base64url (JWTs), so a leaked one is a whole word.
 */
export function scanLedger(dir: string): LedgerScan {
  const files = readdirSync(dir);
  const secrets = new Set<string>();
  for (const file of files.filter((f) => f.startsWith('secrets-'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) if (line.length >= MIN_SCANNED_SECRET_LENGTH) secrets.add(line);
  }
  const hits = new Map<string, LedgerHit>();
  let outputs = 0;
  let bytes = 0;
  for (const file of files.filter((f) => f.startsWith('out-'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    outputs += 1;
    bytes += text.length;
    const newline = text.indexOf('\n');
    const source = newline === -1 ? text : text.slice(0, newline);
    const body = newline === -1 ? '' : text.slice(newline + 1);
    for (const word of body.split(/[^A-Za-z0-9._~-]+/)) {
      if (word.length < MIN_SCANNED_SECRET_LENGTH) continue;
      const trimmed = word.replace(/^\.+|\.+$/g, '');
      const candidates = [word, trimmed, ...(trimmed.includes('.') ? trimmed.split('.') : [])];
      for (const candidate of candidates) {
        if (!secrets.has(candidate)) continue;
        const key = `${candidate}\u0000${file}`;
        if (!hits.has(key)) hits.set(key, { fingerprint: fingerprint(candidate), length: candidate.length, source, file });
      }
    }
  }
  return { secrets: secrets.size, outputs, bytes, hits: [...hits.values()] };
}

export default function globalTeardown(): void {
  const dir = process.env['MCPAUTHD_TEST_LEDGER'];
  if (dir === undefined || dir === '') return;
  const scan = scanLedger(dir);
  const summary = `secret ledger: ${scan.secrets} issued secrets checked against ${scan.outputs} captured outputs (${(scan.bytes / 1024 / 1024).toFixed(1)} MiB)`;
  if (scan.hits.length === 0) {
    // MCPAUTHD_TEST_LEDGER_KEEP=1 keeps it, to see what was captured.
    const keep = process.env['MCPAUTHD_TEST_LEDGER_KEEP'] === '1';
    process.stdout.write(`\n${summary}: no leak${keep ? `; kept at ${dir}` : ''}\n`);
    if (!keep) rmSync(dir, { recursive: true, force: true });
    return;
  }
  const lines = scan.hits.map((hit) => `  ${hit.fingerprint} (${hit.length} chars) in "${hit.source}" (${hit.file})`);
  // Kept for investigation: the AS that issued these secrets is gone, they grant nothing any more.
  throw new Error(`${summary}: ${scan.hits.length} LEAK(S), ledger kept at ${dir}\n${lines.join('\n')}`);
}
