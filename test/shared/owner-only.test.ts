/**
 * The owner-only rule (shared/owner-only.ts) on real files, and the three
 * places that apply it (daemon/private-path.ts, shared/socket-check.ts,
 * client/private-path-check.ts) giving the same verdict for the same path.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPrivatePath } from '../../client/cli/private-path-check.js';
import { assertPrivateFileIfExists, ensurePrivateDirectory } from '../../daemon/os/private-path.js';
import { currentUid, lstatOrNull, modeString, ownerOnlyProblem } from '../../shared/owner-only.js';
import { describePrivateDirProblem } from '../../shared/socket-check.js';
import { makeTempHome, type TempHome } from '../helpers/temp-home.js';

let home: TempHome;
beforeEach(() => {
  home = makeTempHome();
});
afterEach(() => home.remove());

function stats(path: string) {
  const found = lstatOrNull(path);
  if (found === null) throw new Error(`${path} is missing`);
  return found;
}

describe('lstatOrNull()', () => {
  it('should say null for a missing path and for a path below a regular file', () => {
    const file = join(home.root, 'file');
    writeFileSync(file, 'x');
    expect(lstatOrNull(join(home.root, 'missing'))).toBeNull();
    expect(lstatOrNull(join(file, 'below'))).toBeNull();
    expect(lstatOrNull(file)?.isFile()).toBe(true);
  });
});

describe('ownerOnlyProblem()', () => {
  it('should accept a 0700 directory and a 0600 file of ours', () => {
    const dir = join(home.root, 'd');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, 'f');
    writeFileSync(file, 'x', { mode: 0o600 });
    expect(ownerOnlyProblem(dir, stats(dir), 'directory')).toBeNull();
    expect(ownerOnlyProblem(file, stats(file), 'file')).toBeNull();
    expect(modeString(stats(dir))).toBe('0700');
  });

  it('should name the chmod that fixes a path open to group or others', () => {
    const dir = join(home.root, 'open');
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o755);
    expect(ownerOnlyProblem(dir, stats(dir), 'directory')).toEqual({
      problem: `${dir} has mode 0755: group or others can reach it`,
      fix: `chmod 700 ${JSON.stringify(dir)} (and check whether someone else read it)`,
    });
  });

  it('should refuse a symlink even to a good target, a wrong kind, and someone else\'s path', () => {
    const dir = join(home.root, 'real');
    mkdirSync(dir, { mode: 0o700 });
    const link = join(home.root, 'link');
    symlinkSync(dir, link);
    expect(ownerOnlyProblem(link, stats(link), 'directory')?.problem).toBe(`${link} is a symbolic link; mcpauthd will not follow it`);
    expect(ownerOnlyProblem(dir, stats(dir), 'file')?.problem).toBe(`${dir} is not a regular file`);
    const stranger = (currentUid() ?? 0) + 4242;
    expect(ownerOnlyProblem(dir, stats(dir), 'directory', stranger)?.problem).toMatch(/is owned by uid \d+, not by you \(uid \d+\)/);
  });
});

describe('daemon, client and doctor agree', () => {
  it('should give the same problem and fix in all three places', () => {
    const dir = join(home.root, 'open');
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o755);
    const expected = ownerOnlyProblem(dir, stats(dir), 'directory');
    if (expected === null) throw new Error('expected a problem');
    expect(() => ensurePrivateDirectory(dir)).toThrow(`directory ${expected.problem}. Fix: ${expected.fix}.`);
    expect(describePrivateDirProblem(dir)).toBe(`${expected.problem} (fix: ${expected.fix})`);
    expect(checkPrivatePath(dir, 'directory')).toEqual({ state: 'problem', ...expected });
  });

  // The daemon's lstatOrNull threw ENOTDIR where the client's said "missing".
  it('should treat a file path below a regular file as missing in the daemon too (it threw a bare ENOTDIR)', () => {
    const file = join(home.root, 'not-a-dir');
    writeFileSync(file, 'x');
    const below = join(file, 'mcpauthd.db');
    expect(() => assertPrivateFileIfExists(below)).not.toThrow();
    expect(checkPrivatePath(below, 'file')).toEqual({ state: 'missing' });
  });
});
