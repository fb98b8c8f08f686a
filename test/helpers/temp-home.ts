/** Throw-away state and socket directories for one test, removed afterwards. */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePaths, type Paths } from '../../shared/paths.js';

export interface TempHome {
  root: string;
  paths: Paths;
  env: NodeJS.ProcessEnv;
  remove(): void;
}

/**
 * A writable base directory outside /tmp and /var/tmp, for tests of a service
 * unit with PrivateTmp=yes (which refuses paths there): /dev/shm where it is
 * writable (Linux), else the user's home directory.
 */
export function baseOutsideTmp(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return homedir();
  }
}

export function makeTempHome(prefix = 'mcpauthd-test-', base: string = tmpdir()): TempHome {
  // Short paths: a Unix socket path must fit in about 100 bytes.
  const root = mkdtempSync(join(base, prefix));
  // The key file too (issue 17): each test its own config directory, never the user's.
  const paths = resolvePaths({ home: join(root, 'home'), socket: join(root, 'run', 'd.sock'), config: join(root, 'config') });
  return {
    root,
    paths,
    env: { ...process.env, MCPAUTHD_HOME: paths.home, MCPAUTHD_SOCKET: paths.socket, MCPAUTHD_CONFIG_DIR: paths.configDir, MCPAUTHD_KEY_PROVIDER: 'key_file', MCPAUTHD_LOG_LEVEL: 'debug' },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
