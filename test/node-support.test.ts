/**
 * Which Node.js versions are supported: one rule (client/node-support.ts) that
 * package.json's `engines`, the README and `mcpauthd doctor` agree on.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDoctor } from '../client/cli/doctor.js';
import { ENGINES_RANGE, nodeSupport } from '../client/cli/node-support.js';
import { REPO_ROOT } from './helpers/daemon-process.js';
import { makeTempHome } from './helpers/temp-home.js';

describe('supported Node.js versions', () => {
  it('should call 22.13+ and 24+ supported, 20.19+ end of life, and older or odd lines unsupported', () => {
    expect(['22.13.0', '22.20.1', '24.0.0', '25.1.0'].map((v) => nodeSupport(v).support)).toEqual(['supported', 'supported', 'supported', 'supported']);
    expect(['20.19.0', '20.20.2', 'v20.20.2'].map((v) => nodeSupport(v).support)).toEqual(['end_of_life', 'end_of_life', 'end_of_life']);
    expect(['18.20.4', '20.18.3', '21.7.3', '22.12.0', '23.11.0', 'banana'].map((v) => nodeSupport(v).support)).toEqual(Array(6).fill('unsupported'));
  });

  it('should declare the same range in package.json engines and name it in the README', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(ENGINES_RANGE);
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`${ENGINES_RANGE}\``);
  });

  it('doctor should warn on Node 20 and on an unsupported Node, with the fix, and say ok on 24', async () => {
    const home = makeTempHome();
    try {
      const judge = async (nodeVersion: string) => {
        const report = await runDoctor({ paths: home.paths, service: undefined, nodeVersion, daemonTimeoutMs: 500 });
        return report.checks.find((c) => c.id === 'node');
      };
      expect(await judge('20.20.2')).toEqual({
        id: 'node',
        status: 'warn',
        message: 'Node.js 20.20.2 works but is past its end of life (April 2026), and node-ipc 14 declares Node.js >= 22.13',
        fix: 'install Node.js 22.13+ or 24 LTS, then run "mcpauthd install-service" again so the service uses it',
      });
      expect(await judge('18.20.4')).toMatchObject({ status: 'warn', message: `Node.js 18.20.4 is not supported (supported: ${ENGINES_RANGE})` });
      expect(await judge('24.11.1')).toEqual({ id: 'node', status: 'ok', message: 'Node.js 24.11.1 is supported' });
    } finally {
      home.remove();
    }
  });
});
