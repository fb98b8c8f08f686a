/**
 * `npm run demo` (scripts/demo.mjs) is documentation that runs: keep it
 * working, quick, and free of secrets.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/daemon-process.js';
import { recordOutput } from './helpers/secret-ledger.js';

describe('scripts/demo.mjs', () => {
  it('should log in, show the status, call a tool through the proxy and clean up, in a few seconds', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'demo.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    recordOutput('npm run demo (demo.test.ts)', out);
    expect(out).toContain('logged in');
    expect(out).toMatch(/STATE[\s\S]*valid/);
    expect(out).toContain('echo -> hello through mcpauthd');
    expect(out).toContain('test-tool -> test-tool ok');
    expect(out).toMatch(/stopped everything and removed \S+mcpauthd-demo-/);
    expect(out).toMatch(/done in \d+\.\d s/);
    // A token or refresh token is a JWT or a long opaque string; neither is ever printed.
    expect(out).not.toMatch(/eyJ[\w-]{20,}\./);
    expect(status).toBe(0);
  });
});
