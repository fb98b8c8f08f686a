/**
 * The client side stays thin: nothing in client/ or shared/ may import the
 * daemon, the SQLite driver or openid-client (`mcpauthd token` must start
 * fast, and a library user must not pull in a database). The one exception is
 * the CLI's `daemon` command (client/cli/commands/daemon.ts), which loads the
 * daemon lazily.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './helpers/daemon-process.js';

function sources(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function imports(file: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2]) as string);
}

describe('module boundaries', () => {
  it('should keep client/ and shared/ free of daemon, SQLite and OAuth code', () => {
    const offenders: string[] = [];
    for (const file of [...sources('client'), ...sources('shared')]) {
      for (const spec of imports(file)) {
        const lazyDaemonCommand = file === join('client', 'cli', 'commands', 'daemon.ts') && spec === '../../../daemon/main.js';
        if (lazyDaemonCommand) continue;
        if (/daemon\//.test(spec) || /^(better-sqlite3|openid-client|oidc-provider|node-ipc|winston|croner)$/.test(spec)) offenders.push(`${file} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  // The MCP SDK is big: `mcpauthd token` and a library user of mcpauthd/client
  // must not load it. The SDK adapters import it for types only; only the
  // proxy needs it at run time, and the CLI loads the proxy lazily.
  it('should load the MCP SDK at run time only in client/proxy.ts, which the CLI imports lazily', () => {
    const runtimeImports = (file: string) =>
      [...readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);
    const sdkUsers = [...sources('client'), ...sources('shared')].filter((f) => runtimeImports(f).some((spec) => spec.startsWith('@modelcontextprotocol/sdk')));
    expect(sdkUsers).toEqual([join('client', 'cli', 'proxy.ts')]);
    const proxyModule = join('client', 'cli', 'proxy.js');
    const proxyImporters = sources('client').filter((f) => runtimeImports(f).some((spec) => join(dirname(f), spec) === proxyModule));
    expect(proxyImporters).toEqual([]);
    // The `proxy` command's definition (in the CLI's command table) loads it when that command runs.
    expect(imports(join('client', 'cli', 'commands', 'credentials.ts'))).toContain('../proxy.js');
  });

  // openid-client is imported only by the modules of this one list, all in daemon/oauth/: the
  // client and its authorization code, refresh and revocation calls with the one error mapping
  // (oauth-client.ts), the other grants (extension-grants.ts) and the IdP's OIDC login requests
  // (oidc-login-requests.ts). The rest of the daemon talks to servers through their functions, so
  // swapping or upgrading the library stays a change local to daemon/oauth/. Grow the list only
  // with a module of daemon/oauth/ that needs a new kind of openid-client call.
  const OPENID_CLIENT_MODULES = ['oauth-client.ts', 'extension-grants.ts', 'oidc-login-requests.ts'].map((f) => join('daemon', 'oauth', f));

  it('should import openid-client only in the listed modules of daemon/oauth/', () => {
    const importers = sources('daemon').filter((f) => imports(f).includes('openid-client'));
    expect(importers.filter((f) => !OPENID_CLIENT_MODULES.includes(f))).toEqual([]);
    expect(importers.length).toBeGreaterThan(0);
  });

  it('should import better-sqlite3 only in daemon/store/ (and the instance lock, which holds no data)', () => {
    const importers = sources('daemon').filter((f) => imports(f).includes('better-sqlite3'));
    // instance-lock.ts uses SQLite only for its exclusive lock, which the kernel drops with the process.
    // The store is split into one file per job (schema, statements, rows); the others need the
    // driver's types only, so token-store.ts stays the one place that opens a connection.
    const outside = importers.filter((f) => !f.startsWith(join('daemon', 'store') + '/') && f !== join('daemon', 'os', 'instance-lock.ts'));
    expect(outside).toEqual([]);
    const opensDriver = (file: string) => /^\s*import\s+(?!type\b)[^'";]*?from\s+['"]better-sqlite3['"]/m.test(readFileSync(join(REPO_ROOT, file), 'utf8'));
    expect(importers.filter(opensDriver).sort()).toEqual([join('daemon', 'os', 'instance-lock.ts'), join('daemon', 'store', 'token-store.ts')]);
  });
});
