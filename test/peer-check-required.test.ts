/**
 * Issue 13 item 5: on Linux and macOS, where the kernel can always be asked
 * who connects, a daemon that cannot load its peer check refuses to start
 * instead of running behind the directory permissions alone, unless the user
 * passes --allow-no-peer-check. Other platforms keep the fallback.
 *
 * The real daemon process, with koffi made unloadable the way a missing
 * package is (a module resolution hook that refuses it, given through
 * NODE_OPTIONS): no test code in the daemon.
 */
import { describe, expect, it } from '@jest/globals';
import { assertPeerCheckAllowed, directoryPermissionsOnly, createPeerChecker } from '../daemon/server/peer-check.js';
import { isAuthdError } from '../shared/errors.js';
import { runCliAsync, startDaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome } from './helpers/temp-home.js';

const HOOK = `export async function resolve(specifier, context, next) {
  if (specifier === 'koffi') throw new Error("Cannot find package 'koffi' (hidden by the test)");
  return next(specifier, context);
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;
const NO_KOFFI = `--import=${JSON.stringify(`data:text/javascript,${encodeURIComponent(REGISTER)}`)}`;

describe('peer check required on Linux and macOS (issue 13 item 5)', () => {
  it('refuses to start without a peer check, naming --allow-no-peer-check, and starts with it', async () => {
    if (process.platform !== 'linux' && process.platform !== 'darwin') {
      process.stdout.write(`peer-check-required: SKIPPED: on ${process.platform} the fallback is the documented behaviour. This is not a pass.\n`);
      return;
    }
    const home = makeTempHome();
    const env = { ...home.env, NODE_OPTIONS: NO_KOFFI };
    try {
      const refused = await runCliAsync(['daemon'], env);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("cannot check who connects to the socket (the koffi FFI module could not be loaded (Cannot find package 'koffi'");
      expect(refused.stderr).toContain('--allow-no-peer-check');
      expect(refused.stdout).not.toContain('mcpauthd ready');

      const daemon = await startDaemonProcess(env, ['--allow-no-peer-check']);
      try {
        const status = await runCliAsync(['status', '--json'], home.env);
        expect(JSON.parse(status.stdout).daemon.peer_check).toBe('directory-permissions-only');
        expect(daemon.stderr()).toContain('cannot check who connects; only the socket directory permissions protect the socket');
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    } finally {
      home.remove();
    }
  });

  it('applies the rule by platform: required on linux and darwin, the fallback elsewhere', () => {
    const fallback = directoryPermissionsOnly('no peer credential call is known here');
    for (const platform of ['linux', 'darwin'] as const) {
      let thrown: unknown;
      try {
        assertPeerCheckAllowed(fallback, { platform, allowNoPeerCheck: false });
      } catch (err) {
        thrown = err;
      }
      expect(isAuthdError(thrown, 'PEER_CHECK_UNAVAILABLE')).toBe(true);
      expect(() => assertPeerCheckAllowed(fallback, { platform, allowNoPeerCheck: true })).not.toThrow();
    }
    for (const platform of ['freebsd', 'openbsd', 'sunos', 'aix'] as const) {
      expect(() => assertPeerCheckAllowed(fallback, { platform, allowNoPeerCheck: false })).not.toThrow();
    }
    expect(() => assertPeerCheckAllowed(createPeerChecker('peercred', () => ({ uid: 0 })), { platform: 'linux', allowNoPeerCheck: false })).not.toThrow();
  });
});
