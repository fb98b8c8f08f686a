import { describe, expect, it } from '@jest/globals';
import { resolvePaths } from '../../shared/paths.js';

describe('resolvePaths', () => {
  it('should default to XDG state and runtime directories on Linux', () => {
    const p = resolvePaths({ env: { XDG_RUNTIME_DIR: '/run/user/1000' }, platform: 'linux', userHome: '/home/u' });
    expect(p.home).toBe('/home/u/.local/state/mcpauthd');
    expect(p.database).toBe('/home/u/.local/state/mcpauthd/mcpauthd.db');
    expect(p.socket).toBe('/run/user/1000/mcpauthd/mcpauthd.sock');
    expect(p.socketDir).toBe('/run/user/1000/mcpauthd');
  });

  it('should put the socket under the state directory without XDG_RUNTIME_DIR', () => {
    const p = resolvePaths({ env: { XDG_STATE_HOME: '/s' }, platform: 'linux', userHome: '/home/u' });
    expect(p.home).toBe('/s/mcpauthd');
    expect(p.socket).toBe('/s/mcpauthd/run/mcpauthd.sock');
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
