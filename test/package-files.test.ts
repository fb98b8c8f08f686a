/**
 * What `npm pack` puts in the tarball, from npm's own file list (no scripts
 * run, so this takes a second): only the compiled daemon, client and shared
 * code, the docs and the README; never the compiled tests, the bench scripts
 * or source maps, which `npm test` also builds into dist/. The whole install
 * (pack, `npm install -g` into a fresh prefix, the installed CLI run away
 * from the repository) is scripts/check-package.mjs, run by .ci/run.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs module shared with scripts/check-package.mjs (no types).
import { isShippable } from '../scripts/package-files.mjs';
import { REPO_ROOT } from './helpers/daemon-process.js';

const shippable = isShippable as (path: string) => boolean;

describe('the npm package', () => {
  it('should list only runtime code, docs and the README, though dist/ also holds tests and bench scripts', () => {
    // npm test builds tests and bench scripts into dist/ too: the files globs must leave them out.
    expect(existsSync(join(REPO_ROOT, 'dist', 'test'))).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'dist', 'scripts', 'bench', 'run.js'))).toBe(true);
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files.filter((f) => !shippable(f))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['dist/client/cli/bin.cjs', 'dist/cjs/package.json', 'dist/cjs/hot-commands.js', 'dist/cjs/hot-commands.v8cache', 'dist/client/cli/main.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/daemon/main.js', 'README.md', 'docs/protocol.md']));
  });

  it('should need no dev dependency at run time: every bare import in the shipped code is a runtime dependency', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const js = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).filter((f) => f.endsWith('.js'));
    const bare = new Set<string>();
    for (const file of js) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'([^'.][^']*)'/g)) {
        const spec = m[1] as string;
        if (spec.startsWith('node:') || spec === pkg.name || spec.startsWith(`${pkg.name}/`)) continue; // itself: the examples in doc comments
        bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
      }
    }
    expect([...bare].filter((name) => !(name in pkg.dependencies)).sort()).toEqual([]);
    expect(bare.size).toBeGreaterThan(3);
  });
});
