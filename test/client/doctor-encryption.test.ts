/**
 * Issue 17: `mcpauthd doctor`'s `encryption` line explains the key provider's
 * trade-off, from what the daemon reports in `status` (daemon.encryption).
 */
import { describe, expect, it } from '@jest/globals';
import { encryptionCheck } from '../../client/cli/doctor-encryption.js';
import type { DaemonInfo } from '../../shared/protocol/types.js';

const info: DaemonInfo = { pid: 1, version: '0.1.0', protocol: 1, socket: '/s', home: '/h', started_at: 0, peer_check: 'peercred' };

describe('doctor: encryption (issue 17)', () => {
  it('says what the key file protects against and what it does not, and why the keychain was passed over', () => {
    const check = encryptionCheck({ ...info, encryption: { provider: 'key_file', location: '/home/u/.config/mcpauthd/database.key', passed_over: ['the OS keychain: no session bus'] } });
    expect(check.status).toBe('ok');
    expect(check.message).toBe(
      'tokens, client secrets and keys are encrypted at rest (AES-256-GCM) with a key from a key file in the config directory (0600): /home/u/.config/mcpauthd/database.key ' +
        '(passed over: the OS keychain: no session bus). Protects against a copied state directory or a backup of it alone: the key lives in another directory, so a copy of the database without the config directory is useless. ' +
        'Does not protect against anyone who can read both directories (a full home backup, a disk image, root, a process running as you); prefer the keychain where one runs',
    );
  });

  it('names the keychain trade-off', () => {
    const check = encryptionCheck({ ...info, encryption: { provider: 'keychain', location: 'the OS keychain (service mcpauthd, account database-key)' } });
    expect(check.message).toMatch(/^tokens, client secrets and keys are encrypted at rest \(AES-256-GCM\) with a key from the OS keychain .*Protects against a copied state directory, a backup or a disk image of it.*Does not protect against a process running as you while the keychain is unlocked/);
  });

  it('warns about a daemon that does not report encryption (from before it), with the fix', () => {
    expect(encryptionCheck(info)).toMatchObject({ id: 'encryption', status: 'warn', fix: expect.stringContaining('restart the daemon with this mcpauthd version') });
  });
});
