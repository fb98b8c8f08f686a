/**
 * Which Node.js versions mcpauthd supports, as one rule that package.json's
 * `engines`, the README ("Node.js versions") and `doctor` agree on
 * (test/node-support.test.ts holds `engines` to it).
 *
 * - 22.13+ and 24+: what node-ipc 14 (the daemon's socket server) declares.
 * - 20.19+: runs, and is what CI here runs, but Node 20 left maintenance in
 *   April 2026 and node-ipc declares it unsupported (npm prints EBADENGINE):
 *   doctor warns.
 * - Anything older, and the short-lived odd lines (21, 23), are not supported.
 */

export type NodeSupport = 'supported' | 'end_of_life' | 'unsupported';

export const ENGINES_RANGE = '^20.19.0 || >=22.13.0';
export const RECOMMENDED = 'Node.js 22.13+ or 24 LTS';

export interface NodeSupportVerdict {
  support: NodeSupport;
  message: string;
  fix?: string;
}

/** @param version `process.versions.node`, e.g. "20.20.2" */
export function nodeSupport(version: string): NodeSupportVerdict {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m === null) return { support: 'unsupported', message: `cannot read the Node.js version ${JSON.stringify(version.slice(0, 40))}`, fix: `install ${RECOMMENDED}` };
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const v = `Node.js ${major}.${minor}.${m[3]}`;
  const fix = `install ${RECOMMENDED}, then run "mcpauthd install-service" again so the service uses it`;
  if (major === 20 && minor >= 19) {
    return {
      support: 'end_of_life',
      message: `${v} works but is past its end of life (April 2026), and node-ipc 14 declares Node.js >= 22.13`,
      fix,
    };
  }
  if ((major === 22 && minor >= 13) || major >= 24) return { support: 'supported', message: `${v} is supported` };
  return { support: 'unsupported', message: `${v} is not supported (supported: ${ENGINES_RANGE})`, fix };
}
