#!/usr/bin/env node
/**
 * The package as users get it (.ci/run runs this):
 *
 *   1. `npm pack`: the tarball holds only what runs (dist/client, dist/daemon,
 *      dist/shared, no source maps), the docs and the README;
 *   2. `npm install -g <tarball>` into a fresh prefix: no dev dependency lands;
 *   3. from a directory outside the repository, with only that prefix's bin on
 *      PATH: `mcpauthd --version`, `mcpauthd daemon` (until ready),
 *      `mcpauthd token` (a credential planted through the installed package's
 *      own store), `mcpauthd status --json` and `mcpauthd install-service --print`.
 *
 *   node scripts/check-package.mjs [--keep] [--from-source]
 *     --keep         leaves the temp directory
 *     --from-source  lets better-sqlite3 compile in the fresh prefix (about 70 s)
 *
 * better-sqlite3's install script asks prebuild-install for a prebuilt binary,
 * which users download from its GitHub releases; this machine has no network
 * for that, so by default the binary `npm ci` already built for this Node is
 * offered as a local prebuild (prebuild-install's
 * npm_config_better_sqlite3_local_prebuilds). The install script still runs,
 * as it does for users; only the download is replaced.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isShippable } from './package-files.mjs';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const keep = process.argv.includes('--keep');
const fromSource = process.argv.includes('--from-source');
const work = realpathSync(mkdtempSync(join(tmpdir(), 'mcpauthd-pkg-')));
const failures = [];
let daemon;

function step(text) {
  process.stdout.write(`check-package: ${text}\n`);
}
function check(ok, what) {
  if (ok) step(`ok   ${what}`);
  else {
    failures.push(what);
    step(`FAIL ${what}`);
  }
}

/**
 * The binary `npm ci` built for this Node, packed the way prebuild-install
 * names a release asset, in `dir`; undefined (compile instead) when there is none.
 */
function localPrebuild(dir) {
  const sqlite = join(REPO, 'node_modules', 'better-sqlite3');
  const binary = join(sqlite, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(binary)) return undefined;
  const version = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')).version;
  mkdirSync(dir, { recursive: true });
  const asset = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync('tar', ['-czf', join(dir, asset), '-C', sqlite, 'build/Release/better_sqlite3.node']);
  return dir;
}

try {
  // ---- 1. the tarball
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const files = packed[0].files.map((f) => f.path);
  const tarball = join(packDir, packed[0].filename);
  const stray = files.filter((f) => !isShippable(f));
  check(stray.length === 0, `the tarball holds only runtime code and docs (${files.length} files${stray.length === 0 ? '' : `; stray: ${stray.slice(0, 10).join(', ')}`})`);
  const needed = ['dist/client/cli/bin.cjs', 'dist/client/cli/main.js', 'dist/cjs/package.json', 'dist/cjs/hot-commands.js', 'dist/cjs/hot-commands.v8cache', 'dist/client/index.js', 'dist/daemon/main.js'];
  check(needed.every((f) => files.includes(f)), `the tarball has the bin, its CommonJS fast path, the CLI, the library and the daemon (${needed.filter((f) => !files.includes(f)).join(', ') || 'all there'})`);

  // ---- 2. a fresh prefix, as `npm install -g` does for a user
  const prefix = join(work, 'prefix');
  const started = Date.now();
  const installEnv = { ...process.env };
  const prebuilds = fromSource ? undefined : localPrebuild(join(work, 'prebuilds'));
  if (prebuilds !== undefined) installEnv.npm_config_better_sqlite3_local_prebuilds = prebuilds;
  execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: work, stdio: 'inherit', env: installEnv });
  step(`installed in ${Math.round((Date.now() - started) / 1000)} s (better-sqlite3 ${prebuilds === undefined ? 'compiled from source' : 'from the local prebuild'})`);
  // Optional (the OS keychain binding): its absence must not fail the install, only be said.
  step(`optional @napi-rs/keyring ${existsSync(join(prefix, 'lib', 'node_modules', 'mcpauthd', 'node_modules', '@napi-rs', 'keyring')) ? 'installed' : 'not installed (the key file will be used)'}`);
  const installed = join(prefix, 'lib', 'node_modules', 'mcpauthd');
  // Dev-only as the lock file says (zod and jose are also runtime dependencies of the MCP SDK and openid-client).
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8'));
  const unexpected = Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev === true && existsSync(join(installed, 'node_modules', d)));
  check(unexpected.length === 0, `no dev dependency installed (${unexpected.join(', ') || 'none'})`);

  // ---- 3. the installed CLI, away from the repository
  const run = join(work, 'run');
  const home = join(run, 'h');
  const sockDir = join(run, 'r');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(sockDir, { recursive: true, mode: 0o700 });
  const env = {
    PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: process.env.HOME ?? work,
    MCPAUTHD_HOME: home,
    MCPAUTHD_SOCKET: join(sockDir, 'd.sock'),
    // The database key (issue 17): a key file in this run's directory, never the user's keychain or ~/.config.
    MCPAUTHD_CONFIG_DIR: join(run, 'c'),
    MCPAUTHD_KEY_PROVIDER: 'key_file',
  };
  const cli = (args) => spawnSync('mcpauthd', args, { cwd: run, env, encoding: 'utf8', timeout: 30_000 });

  const version = cli(['--version']);
  check(version.status === 0 && version.stdout.trim() === `mcpauthd ${pkg.version}`, `mcpauthd --version prints ${pkg.version} (${JSON.stringify(version.stdout.trim())})`);

  // A credential written by the installed package's own store, so `token` has something to serve.
  const url = 'https://mcp.package-check.example/mcp';
  const fakeToken = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: url })).toString('base64url')}.${'s'.repeat(43)}`;
  const plant = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { TokenStore } = await import(${JSON.stringify(pathToFileURL(join(installed, 'dist/daemon/store/token-store.js')).href)});
       const { Secret } = await import(${JSON.stringify(pathToFileURL(join(installed, 'dist/daemon/store/secret.js')).href)});
       process.umask(0o077);
       const store = TokenStore.open(${JSON.stringify(join(home, 'mcpauthd.db'))});
       const now = Date.now();
       store.saveCredential({ resource: ${JSON.stringify(url)}, serverUrl: ${JSON.stringify(url)}, issuer: 'https://auth.package-check.example', clientId: 'c1', scopes: ['mcp:tools'],
         accessToken: new Secret(process.env.FAKE_TOKEN), tokenType: 'Bearer', expiresAt: now + 86400000, refreshToken: null, refreshAt: now + 43200000 });
       store.close();`,
    ],
    { cwd: run, env: { ...env, FAKE_TOKEN: fakeToken }, encoding: 'utf8' },
  );
  check(plant.status === 0, `planted a credential with the installed store${plant.status === 0 ? '' : `: ${plant.stderr}`}`);

  daemon = spawn('mcpauthd', ['daemon'], { cwd: run, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let daemonErr = '';
  daemon.stderr.on('data', (d) => (daemonErr += d));
  const ready = await new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(false), 30_000);
    daemon.stdout.on('data', (d) => {
      out += d;
      if (out.includes('mcpauthd ready')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    daemon.on('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  check(ready, `mcpauthd daemon starts and prints its ready line${ready ? '' : `: ${daemonErr.slice(-2000)}`}`);

  const token = cli(['token', url]);
  check(token.status === 0 && token.stdout.trim() === fakeToken, `mcpauthd token prints the stored token (exit ${token.status}${token.status === 0 ? '' : `: ${token.stderr.trim()}`})`);
  // The code cache prepack wrote (scripts/code-cache-training.ts) was packed, and this Node takes it.
  const cacheUse = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(join(installed, 'dist/client/cli/bin.cjs'))}).loadHotCommands().codeCache)`], { cwd: run, env, encoding: 'utf8' });
  check(cacheUse.stdout === 'used', `the installed bin compiles token and status with the packed V8 code cache (${cacheUse.stdout || cacheUse.stderr.trim()})`);
  const status = cli(['status', '--json']);
  let statusOk = false;
  try {
    const parsed = JSON.parse(status.stdout);
    statusOk =
      status.status === 0 && parsed.credentials.length === 1 && parsed.credentials[0].resource === url && !status.stdout.includes(fakeToken) && parsed.daemon.encryption?.provider === 'key_file';
  } catch {
    statusOk = false;
  }
  check(statusOk, `mcpauthd status --json lists the credential and no token, and the database is encrypted with the key file (exit ${status.status})`);
  const dbBytes = readFileSync(join(home, 'mcpauthd.db'));
  check(!dbBytes.includes(fakeToken), 'the planted plaintext token was encrypted at the first start (not in the database file)');

  // A service's paths must lie outside /tmp (its PrivateTmp=yes would hide them;
  // install-service refuses): the unit is printed for a state directory in
  // /dev/shm, or in HOME where there is none, the config directory (the key
  // file) inside it, and the socket left to follow it.
  const serviceHome = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : env.HOME, 'mcpauthd-pkg-service-'));
  let unit;
  try {
    const serviceEnv = { ...env, MCPAUTHD_HOME: serviceHome, MCPAUTHD_CONFIG_DIR: join(serviceHome, 'config') };
    delete serviceEnv.MCPAUTHD_SOCKET;
    unit = spawnSync('mcpauthd', ['install-service', '--print'], { cwd: run, env: serviceEnv, encoding: 'utf8', timeout: 30_000 });
  } finally {
    rmSync(serviceHome, { recursive: true, force: true });
  }
  const cliReal = realpathSync(join(installed, 'dist', 'client', 'cli', 'main.js'));
  check(unit.status === 0 && unit.stdout.includes(cliReal) && !unit.stdout.includes(REPO), `mcpauthd install-service --print runs the installed CLI (${cliReal})${unit.status === 0 ? '' : `: exit ${unit.status}: ${unit.stderr.trim().slice(0, 300)}`}`);
} catch (err) {
  failures.push(String(err?.message ?? err));
  step(`FAIL ${String(err?.message ?? err)}`);
} finally {
  if (daemon !== undefined && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((resolve) => daemon.once('exit', resolve));
  }
  if (keep) step(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

if (failures.length > 0) {
  step(`${failures.length} check(s) failed`);
  process.exitCode = 1;
} else step('all checks passed');
