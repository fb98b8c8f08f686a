/**
 * Supply-chain guard. node-ipc 11.x is protestware (it wrote files into users'
 * Desktop through its dependency `peacenotwar`); 10.1.1-10.1.3 were malicious.
 * We run exactly the reviewed 14.0.0.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/daemon-process.js';

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('dependencies', () => {
  it('should install node-ipc exactly 14.0.0 and declare it pinned', () => {
    expect(readJson(join(REPO_ROOT, 'node_modules', 'node-ipc', 'package.json'))['version']).toBe('14.0.0');
    expect((readJson(join(REPO_ROOT, 'package.json'))['dependencies'] as Record<string, string>)['node-ipc']).toBe('14.0.0');
  });

  it('should have no peacenotwar anywhere in the installed tree or the lock file', () => {
    const lock = readJson(join(REPO_ROOT, 'package-lock.json'));
    const packages = Object.keys(lock['packages'] as Record<string, unknown>);
    expect(packages.length).toBeGreaterThan(50);
    expect(packages.filter((p) => /(^|\/)peacenotwar$/.test(p))).toEqual([]);
    expect(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')).not.toContain('peacenotwar');
    expect(existsSync(join(REPO_ROOT, 'node_modules', 'peacenotwar'))).toBe(false);
  });

  it('should lock every node-ipc in the tree to 14.0.0', () => {
    const lock = readJson(join(REPO_ROOT, 'package-lock.json'));
    const ipc = Object.entries(lock['packages'] as Record<string, { version?: string }>).filter(([p]) => /(^|\/)node-ipc$/.test(p));
    expect(ipc.length).toBeGreaterThan(0);
    for (const [, meta] of ipc) expect(meta.version).toBe('14.0.0');
  });
});
