import { describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePaths, userRuntimeDir } from '../../shared/paths.js';

describe('resolvePaths', () => {
  it('should default to XDG state and runtime directories on Linux', () => {
    const p = resolvePaths({ env: { XDG_RUNTIME_DIR: '/run/user/1000' }, platform: 'linux', userHome: '/home/u' });
    expect(p.home).toBe('/home/u/.local/state/mcpauthd');
    expect(p.database).toBe('/home/u/.local/state/mcpauthd/mcpauthd.db');
    expect(p.socket).toBe('/run/user/1000/mcpauthd/mcpauthd.sock');
    expect(p.socketDir).toBe('/run/user/1000/mcpauthd');
  });

  it('should put the socket under the state directory without XDG_RUNTIME_DIR', () => {
    const p = resolvePaths({ env: { XDG_STATE_HOME: '/s' }, platform: 'linux', userHome: '/home/u', userRuntimeDir: null });
    expect(p.home).toBe('/s/mcpauthd');
    expect(p.socket).toBe('/s/mcpauthd/run/mcpauthd.sock');
    expect(p.socketCandidates).toEqual(['/s/mcpauthd/run/mcpauthd.sock']);
  });

  // Issue 14.1: an MCP client starts the proxy without XDG_RUNTIME_DIR; both sides derive /run/user/<uid>.
  it('should derive the runtime directory from the user when XDG_RUNTIME_DIR is unset, as the daemon with it set would use', () => {
    const withEnv = resolvePaths({ env: { XDG_RUNTIME_DIR: '/run/user/1000' }, platform: 'linux', userHome: '/home/u', userRuntimeDir: '/run/user/1000' });
    const stripped = resolvePaths({ env: {}, platform: 'linux', userHome: '/home/u', userRuntimeDir: '/run/user/1000' });
    expect(stripped.socket).toBe(withEnv.socket);
    expect(stripped.socketCandidates).toEqual(['/run/user/1000/mcpauthd/mcpauthd.sock', '/home/u/.local/state/mcpauthd/run/mcpauthd.sock']);
    // A runtime directory named by the environment comes first; the derived one is still tried.
    expect(resolvePaths({ env: { XDG_RUNTIME_DIR: '/xdg' }, platform: 'linux', userHome: '/h', userRuntimeDir: '/run/user/1000' }).socketCandidates).toEqual([
      '/xdg/mcpauthd/mcpauthd.sock',
      '/run/user/1000/mcpauthd/mcpauthd.sock',
      '/h/.local/state/mcpauthd/run/mcpauthd.sock',
    ]);
    // A pinned socket is the only place looked at.
    expect(resolvePaths({ socket: '/p/s.sock', env: {}, platform: 'linux', userHome: '/h', userRuntimeDir: '/run/user/1000' }).socketCandidates).toEqual(['/p/s.sock']);
    expect(resolvePaths({ env: {}, platform: 'darwin', userHome: '/Users/u', userRuntimeDir: '/run/user/501' }).socketCandidates).toEqual([
      '/Users/u/Library/Application Support/mcpauthd/run/mcpauthd.sock',
    ]);
  });

  it('should take /run/user/<uid> only when it is a real directory, ours and 0700', () => {
    const base = mkdtempSync(join(tmpdir(), 'mcpauthd-runuser-'));
    const uid = process.getuid?.() ?? 0;
    try {
      expect(userRuntimeDir(base, uid)).toBeUndefined();
      mkdirSync(join(base, String(uid)), { mode: 0o755 });
      chmodSync(join(base, String(uid)), 0o755);
      expect(userRuntimeDir(base, uid)).toBeUndefined();
      chmodSync(join(base, String(uid)), 0o700);
      expect(userRuntimeDir(base, uid)).toBe(join(base, String(uid)));
      expect(userRuntimeDir(base, uid + 1)).toBeUndefined();
      symlinkSync(join(base, String(uid)), join(base, String(uid + 2)));
      expect(userRuntimeDir(base, uid + 2)).toBeUndefined();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('should use Application Support on macOS', () => {
    expect(resolvePaths({ env: {}, platform: 'darwin', userHome: '/Users/u' }).home).toBe('/Users/u/Library/Application Support/mcpauthd');
  });

  it('should let flags beat the environment and the environment beat defaults', () => {
    const env = { MCPAUTHD_HOME: '/e/home', MCPAUTHD_SOCKET: '/e/s.sock' };
    expect(resolvePaths({ env, platform: 'linux', userHome: '/h' })).toMatchObject({ home: '/e/home', socket: '/e/s.sock' });
    expect(resolvePaths({ env, home: '/f/home', socket: '/f/run/s.sock', platform: 'linux', userHome: '/h' })).toMatchObject({ home: '/f/home', socketDir: '/f/run' });
  });

  it('should ignore a relative XDG_STATE_HOME, as the XDG spec says', () => {
    expect(resolvePaths({ env: { XDG_STATE_HOME: 'rel' }, platform: 'linux', userHome: '/h' }).home).toBe('/h/.local/state/mcpauthd');
  });
});
