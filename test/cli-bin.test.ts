/**
 * The `mcpauthd` executable users run (package.json "bin": dist/client/cli/bin.cjs):
 * `token` and `status` through the one-file CommonJS build of the shared
 * command code (dist/cjs/hot-commands.js, built by `npm run build`), without
 * Node's ESM loader; everything else through the ESM CLI.
 * Same output and exit status as dist/client/cli/main.js, command by command.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory } from '../daemon/os/private-path.js';
import { Secret } from '../daemon/store/secret.js';
import { ledgerCliOutput, REPO_ROOT, runCli, startDaemonProcess, type CliResult, type DaemonProcess } from './helpers/daemon-process.js';
import { makeTempHome, type TempHome } from './helpers/temp-home.js';
import { openSealedStore } from './helpers/sealed-store.js';

const BIN = join(REPO_ROOT, 'dist', 'client', 'cli', 'bin.cjs');
const ACCESS = 'eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL2JpbiJ9.c2lnbmF0dXJlLWJpbg';
const URL = 'https://bin.example.com/mcp';

describe('the mcpauthd executable (bin.cjs)', () => {
  let home: TempHome;
  let daemon: DaemonProcess;
  let probe: string;

  /**
   * Runs the bin with a preload that prints, on exit, which dist/cjs files
   * CommonJS loaded and whether Node's ESM loader ran at all (its internal
   * module is loaded only when something is imported as ESM).
   */
  const bin = (args: string[]): CliResult & { cjs: string[]; esm: boolean } => {
    const r = spawnSync(process.execPath, ['--require', probe, BIN, ...args], { env: home.env, encoding: 'utf8', timeout: 20_000 });
    ledgerCliOutput(args, r);
    const marker = /\nprobe: (.*)\n$/.exec(r.stderr);
    const seen = marker === null ? { cjs: [], esm: true } : (JSON.parse(marker[1] as string) as { cjs: string[]; esm: boolean });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\n?probe: .*\n$/, ''), ...seen };
  };

  beforeAll(async () => {
    // A bare `tsc -p tsconfig.json` does not build it; `npm run build` (and npm test) does.
    if (!existsSync(join(REPO_ROOT, 'dist', 'cjs', 'hot-commands.js'))) throw new Error('dist/cjs is missing: run npm run build');
    home = makeTempHome();
    process.umask(0o077);
    ensurePrivateDirectory(home.paths.home);
    const store = openSealedStore(home.paths);
    store.saveCredential({ resource: URL, serverUrl: URL, issuer: 'https://as.example.com', clientId: 'c1', scopes: ['mcp:tools'], accessToken: new Secret(ACCESS), tokenType: 'Bearer', refreshToken: null, expiresAt: Date.now() + 3_600_000, refreshAt: null });
    store.close();
    probe = join(home.root, 'probe.cjs');
    writeFileSync(
      probe,
      `process.on('exit', () => process.stderr.write('\\nprobe: ' + JSON.stringify({
         cjs: Object.keys(require.cache).filter((k) => k.includes('/dist/cjs/')).map((k) => k.slice(k.indexOf('/dist/cjs/') + 1)).sort(),
         esm: process.moduleLoadList.includes('NativeModule internal/modules/esm/loader'),
       }) + '\\n'));\n`,
    );
    daemon = await startDaemonProcess(home.env);
  });

  afterAll(async () => {
    await daemon.stop();
    home.remove();
  });

  it('token and status: should answer exactly like cli.js, from the CommonJS build', () => {
    for (const args of [['token', URL], ['token', URL, '--json'], ['status', '--json'], ['token', 'https://bin.example.com/mcp/'], ['token', URL, '--min-ttl', 'soon'], ['token', '--help']]) {
      const viaBin = bin(args);
      const viaCli = runCli(args, home.env);
      // Nothing here depends on the clock (status --json has no relative times): the same bytes.
      expect({ args, status: viaBin.status, stdout: viaBin.stdout, stderr: viaBin.stderr }).toEqual({ args, status: viaCli.status, stdout: viaCli.stdout, stderr: viaCli.stderr });
      expect({ args, cjs: viaBin.cjs, esm: viaBin.esm }).toEqual({ args, cjs: ['dist/cjs/hot-commands.js'], esm: false });
    }
    // The request itself went through the CommonJS client: one file, and never the ESM loader.
    expect(bin(['token', URL])).toMatchObject({ status: 0, stdout: `${ACCESS}\n`, cjs: ['dist/cjs/hot-commands.js'], esm: false });
  });

  it('every other command: should run the ESM CLI and load nothing from dist/cjs', () => {
    const version = bin(['--version']);
    expect(version).toMatchObject({ status: 0, stdout: runCli(['--version'], home.env).stdout, cjs: [], esm: true });
    const usage = bin([]);
    expect(usage.status).toBe(2);
    expect(usage.stdout).toContain('Usage: mcpauthd <command> [options]');
    expect(bin(['refresh', '--help'])).toMatchObject({ status: 0, cjs: [], esm: true });
  });
});
