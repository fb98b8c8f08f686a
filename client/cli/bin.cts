#!/usr/bin/env node
/**
 * The `mcpauthd` executable (package.json "bin"). CommonJS on purpose:
 * `mcpauthd token` and `mcpauthd status` run per request from scripts and
 * headers helpers, and they start fastest from one CommonJS file,
 * dist/cjs/hot-commands.js (scripts/build-cjs.mjs), compiled with the V8 code
 * cache the build wrote beside it (docs/benchmarks.md, issue 14). Every other
 * command, and these two when dist/cjs was not built, runs the ESM CLI
 * (client/cli/main.ts); both use the same code (client/cli/cli-core.ts).
 *
 * Required as a module (the build's code cache training does), it only
 * exports the loader.
 */
import fs = require('node:fs');
import path = require('node:path');
import vm = require('node:vm');
import type { Command } from './cli-core.js' with { 'resolution-mode': 'import' };

interface HotCommands {
  HOT_COMMANDS: Record<string, Command>;
  runCommand(name: string, cmd: Command, rest: string[]): Promise<number>;
}

const BUNDLE_FILE = path.join(__dirname, '..', '..', 'cjs', 'hot-commands.js');
const CODE_CACHE_FILE = path.join(__dirname, '..', '..', 'cjs', 'hot-commands.v8cache');

/**
 * The bundle's build id, on its second line: a digest of its content that the
 * code cache file starts with. V8 checks a cache only against the source's
 * length (and its own version and flags), so a cache from another build of
 * the same length would run that build's code: the id rules that out.
 */
function buildIdOf(source: string): string | undefined {
  return /^\/\/ build ([0-9a-f]{32})\n/m.exec(source.slice(0, 200))?.[1];
}

/** What loading chose: `used` (V8 took the cache), `rejected` (another Node or V8 flags: compiled from source), `none` (no cache for this build). */
type CodeCacheUse = 'used' | 'rejected' | 'none';

/** The last load, for tests and the build's check (test/cli-bin.test.ts reads it from the bin's exports). */
const lastLoad: { codeCache?: CodeCacheUse } = {};

interface LoadedHotCommands {
  core: HotCommands;
  /** The compiled bundle: the build asks it for a code cache after running the commands. */
  script: vm.Script;
  codeCache: CodeCacheUse;
}

function readCodeCache(id: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(CODE_CACHE_FILE);
  } catch {
    return undefined;
  }
  return data.toString('latin1', 0, id.length) === id ? data.subarray(id.length) : undefined;
}

/**
 * Compiles and runs the bundle as Node's CommonJS loader would (the same
 * function wrapper), with its code cache unless `useCodeCache` is false.
 * Undefined when the bundle was not built (a bare `tsc -p tsconfig.json`).
 */
function loadHotCommands(options: { useCodeCache?: boolean } = {}): LoadedHotCommands | undefined {
  let source: string;
  try {
    source = fs.readFileSync(BUNDLE_FILE, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const id = buildIdOf(source);
  const cachedData = options.useCodeCache === false || id === undefined ? undefined : readCodeCache(id);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: BUNDLE_FILE, ...(cachedData === undefined ? {} : { cachedData }) });
  const codeCache: CodeCacheUse = cachedData === undefined ? 'none' : script.cachedDataRejected === true ? 'rejected' : 'used';
  const bundle = { exports: {} as HotCommands };
  // The bundle asks this require only for node: built-ins; its own modules are inside it.
  (script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void)(bundle.exports, require, bundle, BUNDLE_FILE, path.dirname(BUNDLE_FILE));
  lastLoad.codeCache = codeCache;
  return { core: bundle.exports, script, codeCache };
}

function flushed(stream: NodeJS.WriteStream): boolean {
  return stream.writableLength === 0;
}

/**
 * Sets the exit status when `result` settles. A hot command then exits at
 * once when its output is out (pipes are written synchronously on Linux, not
 * on macOS: hence the check): waiting for the event loop to wind down the
 * closed socket cost about half a millisecond per call.
 */
function finish(result: Promise<number>, exitWhenDone: boolean): void {
  result.then(
    (code) => {
      process.exitCode = code;
      if (exitWhenDone && flushed(process.stdout) && flushed(process.stderr)) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`mcpauthd: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

function main(argv: string[]): void {
  const [name, ...rest] = argv;
  const core = name === 'token' || name === 'status' ? loadHotCommands()?.core : undefined;
  const hot = name === undefined || core === undefined ? undefined : core.HOT_COMMANDS[name];
  if (core !== undefined && hot !== undefined && name !== undefined) finish(core.runCommand(name, hot, rest), true);
  else finish(import('./main.js').then((cli) => cli.main(argv)), false);
}

if (require.main === module) main(process.argv.slice(2));

export = { BUNDLE_FILE, CODE_CACHE_FILE, buildIdOf, lastLoad, loadHotCommands };
