/**
 * The benchmark harness (scripts/bench, `npm run bench`) still runs end to
 * end: every section at tiny sizes (`--quick`), a JSON result of the right
 * shape and an SVG chart. No timing is asserted: that is what `npm run bench`
 * and docs/benchmarks.md are for.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/daemon-process.js';
import { runProcess, type ProcessRun } from './helpers/run-process.js';
import { recordOutput } from './helpers/secret-ledger.js';

const RUN = join(REPO_ROOT, 'dist', 'scripts', 'bench', 'run.js');

function runBench(args: string[]): Promise<ProcessRun> {
  return runProcess(process.execPath, [RUN, ...args]);
}

const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

describe('npm run bench -- --quick', () => {
  it('should measure every section and write well-formed results and a chart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpauthd-bench-'));
    try {
      const json = join(dir, 'results.json');
      const svg = join(dir, 'latency.svg');
      const { status, stdout, stderr } = await runBench(['--quick', '--json', json, '--svg', svg]);
      // The bench logs in and refreshes through the test authorization server (its secrets reach the
      // ledger from the bench process): what it prints and writes must carry none of them.
      recordOutput('npm run bench -- --quick stdout and stderr (bench-smoke.test.ts)', `${stdout}\n${stderr}`);
      if (existsSync(json)) recordOutput('npm run bench -- --quick results.json (bench-smoke.test.ts)', readFileSync(json, 'utf8'));
      expect({ status, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, stderr: '' });
      expect(stdout).toMatch(/^\| measure \| mcpauthd \|/m);

      const results = JSON.parse(readFileSync(json, 'utf8')) as Record<string, any>;
      expect(results['machine']).toMatchObject({ cores: expect.any(Number), node: process.version });
      for (const mode of ['seq', 'conc']) {
        for (const subject of ['echo', 'daemon1', 'daemonN']) {
          const m = results['latency'][mode][subject];
          expect(m.rounds.length).toBeGreaterThan(0);
          expect(m.errors).toBe(0);
          for (const v of [m.p50, m.p99, m.rps]) expect(finite(v)).toBe(true);
          expect(m.grid.length).toBeGreaterThan(10);
        }
      }
      for (const v of [results['cli'].nodeMs, results['cli'].cliMs, results['cli'].ratio]) expect(finite(v)).toBe(true);
      const scale = results['scale'];
      expect(scale.credentials).toBeGreaterThan(1);
      expect(finite(scale.startup.manyMs)).toBe(true);
      expect(scale.timers.many.schedulerTimers).toBe(scale.timers.one.schedulerTimers);
      expect(finite(scale.inside.many.afterGc.rssMB)).toBe(true);
      const storm = results['storm'];
      expect(storm.login.failures).toBe(0);
      expect(storm.rounds.map((r: { kind: string }) => r.kind)).toEqual([...Array(storm.rounds.length - 1).fill('wake'), 'restart']);
      // Correctness, not speed: a storm that loses a credential is a bug at any size.
      expect(storm.lostTotal).toBe(0);
      // Encryption at rest (issue 17): start-up on a sealed database, the store and token.get against their baselines.
      const sealing = results['sealing'];
      for (const v of [sealing.migrationStartMs, sealing.startup.sealedManyMs, sealing.store.coldReadUs.sealed, sealing.store.warmLookupUs.plaintext, sealing.tokenGet.sealedRps, sealing.tokenGet.echoRps]) {
        expect(finite(v)).toBe(true);
      }
      expect(results['targets'].length).toBeGreaterThan(5);
      for (const t of results['targets']) expect(typeof t.met).toBe('boolean');

      expect(existsSync(svg)).toBe(true);
      expect(readFileSync(svg, 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
