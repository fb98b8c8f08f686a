/**
 * The `mcpauthd` executable users run (package.json "bin": dist/client/cli/bin.cjs):
 * `token` and `status` through the one-file CommonJS build of the shared
 * command code (dist/cjs/hot-commands.js, built by `npm run build`) compiled
 * with its V8 code cache (dist/cjs/hot-commands.v8cache), without Node's ESM
 * loader; everything else through the ESM CLI. Same output and exit status as
 * dist/client/cli/main.js, command by command, whatever becomes of the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
   * Runs the bin with a preload that prints, on exit, whether the bin loaded
   * the hot commands' bundle and what became of its code cache (`hot`: the
   * bin's lastLoad.codeCache, null when the bundle was not loaded), and
   * whether Node's ESM loader ran at all (its internal module is loaded only
   * when something is imported as ESM).
   */
  const bin = (args: string[], binFile = BIN): CliResult & { hot: string | null; esm: boolean } => {
    const r = spawnSync(process.execPath, ['--require', probe, binFile, ...args], { env: home.env, encoding: 'utf8', timeout: 20_000, maxBuffer: 16 * 1024 * 1024 });
    ledgerCliOutput(args, r);
    const marker = /\nprobe: (.*)\n$/.exec(r.stderr);
    const seen = marker === null ? { hot: null, esm: true } : (JSON.parse(marker[1] as string) as { hot: string | null; esm: boolean });
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
    // fs.writeSync: the bin exits with process.exit once its output is out, and this must still be seen.
    writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeSync(2, '\\nprobe: ' + JSON.stringify({
         hot: process.mainModule?.exports?.lastLoad?.codeCache ?? null,
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
      // The build's code cache, taken by V8: this is the same Node, with the same flags.
      expect({ args, hot: viaBin.hot, esm: viaBin.esm }).toEqual({ args, hot: 'used', esm: false });
    }
    // The request itself went through the CommonJS client, and never the ESM loader.
    expect(bin(['token', URL])).toMatchObject({ status: 0, stdout: `${ACCESS}\n`, hot: 'used', esm: false });
  });

  it('every other command: should run the ESM CLI and load nothing from dist/cjs', () => {
    const version = bin(['--version']);
    expect(version).toMatchObject({ status: 0, stdout: runCli(['--version'], home.env).stdout, hot: null, esm: true });
    const usage = bin([]);
    expect(usage.status).toBe(2);
    expect(usage.stdout).toContain('Usage: mcpauthd <command> [options]');
    expect(bin(['refresh', '--help'])).toMatchObject({ status: 0, hot: null, esm: true });
  });

  /**
   * A copy of the bin and dist/cjs in their layout (client/cli/bin.cjs and
   * cjs/ side by side), whose cache a test may spoil: the bin must answer the
   * same from source whatever the cache file holds.
   */
  const copyBin = (name: string): { binFile: string; cache: string } => {
    const root = join(home.root, name);
    mkdirSync(join(root, 'client', 'cli'), { recursive: true });
    mkdirSync(join(root, 'cjs'), { recursive: true });
    copyFileSync(BIN, join(root, 'client', 'cli', 'bin.cjs'));
    for (const file of ['hot-commands.js', 'hot-commands.v8cache', 'package.json']) copyFileSync(join(REPO_ROOT, 'dist', 'cjs', file), join(root, 'cjs', file));
    return { binFile: join(root, 'client', 'cli', 'bin.cjs'), cache: join(root, 'cjs', 'hot-commands.v8cache') };
  };

  it('should answer the same from source when the code cache is missing, from another build, or refused by V8', () => {
    const expected = { status: 0, stdout: `${ACCESS}\n`, esm: false };
    const intact = copyBin('intact');
    expect(bin(['token', URL], intact.binFile)).toMatchObject({ ...expected, hot: 'used' });

    const missing = copyBin('missing');
    rmSync(missing.cache);
    expect(bin(['token', URL], missing.binFile)).toMatchObject({ ...expected, hot: 'none' });

    // Another build's cache: the id it starts with is not this bundle's, so V8 is never asked (it checks only the source's length).
    const other = copyBin('other-build');
    const data = readFileSync(other.cache);
    data.write(data.toString('latin1', 0, 1) === '0' ? '1' : '0', 0, 'latin1');
    writeFileSync(other.cache, data);
    expect(bin(['token', URL], other.binFile)).toMatchObject({ ...expected, hot: 'none' });

    // This build's id on bytes V8 cannot take (another Node's cache looks the same to us): V8 refuses, the bundle compiles from source.
    const spoiled = copyBin('spoiled');
    const bytes = readFileSync(spoiled.cache);
    bytes.fill(0x5a, 32, 64);
    writeFileSync(spoiled.cache, bytes);
    expect(bin(['token', URL], spoiled.binFile)).toMatchObject({ ...expected, hot: 'rejected' });
  });

  it('should print all of a large status before it exits (it exits as soon as its output is out)', () => {
    const store = openSealedStore(home.paths);
    const many = 300;
    try {
      store.transaction(() => {
        for (let i = 0; i < many; i++) {
          const url = `https://many${i}.example.com/mcp`;
          store.saveCredential({ resource: url, serverUrl: url, issuer: 'https://as.example.com', clientId: 'c1', scopes: ['mcp:tools'], accessToken: new Secret(`${ACCESS}.${i}`), tokenType: 'Bearer', refreshToken: null, expiresAt: Date.now() + 3_600_000, refreshAt: null });
        }
      });
    } finally {
      store.close();
    }
    const status = bin(['status', '--json']);
    expect(status).toMatchObject({ status: 0, hot: 'used' });
    // More than a pipe holds (64 KiB on Linux), so output cut off by the exit would show as JSON that does not
    // parse. (Linux writes pipes synchronously; the bin's check for unwritten output is for macOS, where it does not.)
    expect(status.stdout.length).toBeGreaterThan(128 * 1024);
    expect((JSON.parse(status.stdout) as { credentials: unknown[] }).credentials).toHaveLength(many + 1);
  });
});
