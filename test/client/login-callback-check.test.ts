/**
 * What `status` and `doctor` say protects the login's loopback callback
 * (issue 13 items 1-3): only this user on Linux, `state` alone elsewhere
 * (macOS has no /proc), and a failure when /proc/net/tcp cannot be read,
 * because the daemon then refuses every callback (fail closed).
 */
import { describe, expect, it } from '@jest/globals';
import { loginCallbackCheck } from '../../client/cli/login-callback-check.js';
import { formatStatus } from '../../client/cli/status-format.js';
import type { StatusResult } from '../../shared/protocol/types.js';

describe('doctor login_callback', () => {
  it('Linux with a readable /proc/net/tcp: ok, only this user and root', () => {
    expect(loginCallbackCheck('linux', () => '  sl  local_address\n')).toEqual({
      id: 'login_callback',
      status: 'ok',
      message: 'login callback: only this user and root (owner of each connection from /proc/net/tcp)',
    });
  });

  it('Linux with /proc/net/tcp hidden: fail, naming the fix', () => {
    const check = loginCallbackCheck('linux', () => {
      throw Object.assign(new Error('denied'), { code: 'EACCES' });
    });
    expect(check).toMatchObject({ id: 'login_callback', status: 'fail' });
    expect(check.message).toContain('refuses every browser callback');
    expect(check.fix).toContain('/proc/net/tcp');
  });

  it('macOS: warns that the callback is protected by state alone', () => {
    const check = loginCallbackCheck('darwin');
    expect(check).toMatchObject({ id: 'login_callback', status: 'warn' });
    expect(check.message).toContain('protected by the OAuth state alone');
  });
});

describe('status: login callback line', () => {
  const base: StatusResult = {
    daemon: { pid: 1, version: '0.1.0', protocol: 1, socket: '/s', home: '/h', started_at: 0, peer_check: 'peercred' },
    credentials: [],
    total: 0,
    next_offset: null,
    next_cursor: null,
  };
  it('names the protection the daemon reports', () => {
    const linux = formatStatus({ ...base, daemon: { ...base.daemon, callback_peer_check: 'proc_net_tcp' } }, { nowMs: 1000, color: false });
    expect(linux).toContain('login     callback only this user and root');
    const mac = formatStatus({ ...base, daemon: { ...base.daemon, callback_peer_check: 'state_only' } }, { nowMs: 1000, color: false });
    expect(mac).toContain('login     callback protected by the OAuth state alone');
  });
});
