/** Throw-away state and socket directories for one test, removed afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePaths, type Paths } from '../../shared/paths.js';

export interface TempHome {
  root: string;
  paths: Paths;
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export function makeTempHome(prefix = 'mcpauthd-test-'): TempHome {
  // Short paths: a Unix socket path must fit in about 100 bytes.
  const root = mkdtempSync(join(tmpdir(), prefix));
  const paths = resolvePaths({ home: join(root, 'home'), socket: join(root, 'run', 'd.sock') });
  return {
    root,
    paths,
    env: { ...process.env, MCPAUTHD_HOME: paths.home, MCPAUTHD_SOCKET: paths.socket, MCPAUTHD_LOG_LEVEL: 'debug' },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
