/**
 * The benchmark harness still runs and writes well-formed results. Tiny
 * sizes, and no assertion on any timing: speed is judged by `npm run bench`
 * as ratios against baselines measured in the same run, never by a test.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/daemon-process.js';

describe('npm run bench (smoke)', () => {
  it('should produce a results table, JSON and an SVG chart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    try {
      const jsonPath = join(dir, 'results.json');
      const svgPath = join(dir, 'chart.svg');
      const args = [join(REPO_ROOT, 'dist', 'scripts', 'bench', 'run.js'), '--quick', '--only', 'latency,scale', '--credentials', '20', '--json', jsonPath, '--svg', svgPath];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect({ status, tail: out.slice(-2000) }).toMatchObject({ status: 0 });
      expect(out).toMatch(/\| measure \| mcpauthd \| baseline/);
      const results = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
      expect(results).toHaveProperty('machine');
      expect(readFileSync(svgPath, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
