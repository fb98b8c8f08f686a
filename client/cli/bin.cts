#!/usr/bin/env node
/**
 * The `mcpauthd` executable (package.json "bin"). CommonJS on purpose:
 * `mcpauthd token` and `mcpauthd status` run per request from scripts and
 * headers helpers, and loading them as CommonJS from dist/cjs (synchronous
 * reads, one file: scripts/build-cjs.mjs) starts measurably faster than
 * through Node's ESM loader (docs/benchmarks.md). Every other command, and these two when dist/cjs was
 * not built, runs the ESM CLI (client/cli.ts); both use the same code
 * (client/cli/cli-core.ts), compiled twice.
 */
import path = require('node:path');
import type { Command } from './cli-core.js' with { 'resolution-mode': 'import' };

interface CliCore {
  HOT_COMMANDS: Record<string, Command>;
  runCommand(name: string, cmd: Command, rest: string[]): Promise<number>;
}

/** The one-file CommonJS build of cli-core (scripts/build-cjs.mjs), or undefined when it was not built (a bare `tsc -p tsconfig.json`). */
function loadCore(): CliCore | undefined {
  try {
    return require(path.join(__dirname, '..', '..', 'cjs', 'hot-commands.js')) as CliCore;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

function finish(result: Promise<number>): void {
  result.then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`mcpauthd: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

const [name, ...rest] = process.argv.slice(2);
const core = name === 'token' || name === 'status' ? loadCore() : undefined;
const hot = name === undefined || core === undefined ? undefined : core.HOT_COMMANDS[name];
if (core !== undefined && hot !== undefined && name !== undefined) finish(core.runCommand(name, hot, rest));
else finish(import('./main.js').then((cli) => cli.main(process.argv.slice(2))));
