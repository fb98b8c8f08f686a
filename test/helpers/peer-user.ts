/**
 * The real second local user the suite creates as root, for attacks from
 * another uid: `ensurePeerUser` creates it once (a system account without a
 * home or login shell), `runScriptAsPeer` runs a small CommonJS script as it
 * (runuser) and parses the one JSON line it prints.
 */
import { spawn, spawnSync } from 'node:child_process';

export const PEER_USER = 'mcpauthd-test-peer';

export const isRoot = process.getuid?.() === 0;
/** Why a test that needs the second user cannot run here, or undefined when it can. */
export const peerSkipReason = isRoot ? undefined : `not running as root (uid ${process.getuid?.() ?? 'unknown'}): cannot create or become a second user`;

export function ensurePeerUser(): number {
  const existing = spawnSync('id', ['-u', PEER_USER], { encoding: 'utf8' });
  if (existing.status !== 0) {
    const created = spawnSync('useradd', ['-M', '-r', '-s', '/usr/sbin/nologin', PEER_USER], { encoding: 'utf8' });
    // Another run may have created it meanwhile (exit 9: already exists).
    if (created.status !== 0 && created.status !== 9) throw new Error(`useradd ${PEER_USER} failed: ${created.stderr}`);
  }
  const uid = Number(spawnSync('id', ['-u', PEER_USER], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || uid <= 0) throw new Error(`${PEER_USER} has no usable uid`);
  return uid;
}

/** Runs `script` with node, as the peer user when `asPeer` (else as this user); resolves with its JSON line. */
export function runScript<T>(script: string, args: string[], asPeer: boolean): Promise<T> {
  const command = asPeer ? ['runuser', '-u', PEER_USER, '--', process.execPath] : [process.execPath];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0] as string, [...command.slice(1), '-e', script, ...args], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', reject);
    child.once('close', () => {
      try {
        resolve(JSON.parse(out.trim()) as T);
      } catch {
        reject(new Error(`the script printed no result: ${out}${err}`));
      }
    });
  });
}
