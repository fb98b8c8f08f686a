/**
 * What the npm package may hold: compiled runtime code and its type
 * declarations, the CommonJS copy of the per-request commands and its V8 code
 * cache (dist/cjs), the
 * docs and the README. Used by scripts/check-package.mjs (the real tarball)
 * and test/package-files.test.ts (npm's file list).
 */
export function isShippable(path) {
  if (path === 'package.json' || path === 'README.md' || path === 'LICENSE') return true;
  if (path === 'dist/cjs/package.json') return true;
  if (/^docs\/[^/]+\.(md|svg)$/.test(path)) return true;
  if (path === 'dist/cjs/hot-commands.js' || path === 'dist/cjs/hot-commands.v8cache') return true;
  return /^dist\/(client|daemon|shared)\/.+\.(js|cjs|d\.ts|d\.cts)$/.test(path);
}
