#!/usr/bin/env node
/**
 * `npm run build:cjs`: the CommonJS copy of the per-request commands
 * (tsconfig.cjs.json → dist/cjs), and the package.json that makes Node read
 * dist/cjs/**.js as CommonJS inside this "type": "module" package.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist', 'cjs');
rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.cjs.json')], { stdio: 'inherit' });
writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
