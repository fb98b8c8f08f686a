/**
 * Issue 17: the database key in the real OS keychain (macOS Keychain, Linux
 * Secret Service). Runs only where a keychain answers a write and a read;
 * elsewhere (headless Linux, CI sandboxes: no session bus) it is skipped and
 * says why. The entry is a throw-away one, removed afterwards.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ensurePrivateDirectory } from '../../daemon/os/private-path.js';
import { keychainSource, keyFileSource, resolveDataKey, type KeySources } from '../../daemon/store/key-provider.js';
import { Secret } from '../../daemon/store/secret.js';
import { TokenStore } from '../../daemon/store/token-store.js';
import { newCredential } from '../helpers/new-credential.js';
import { makeTempHome } from '../helpers/temp-home.js';

const SERVICE = `mcpauthd-test-${randomUUID()}`;

interface RawEntry {
  setPassword(p: string): void;
  getPassword(): string | null;
  deletePassword(): boolean;
}
function rawEntry(account: string): RawEntry {
  const { Entry } = createRequire(import.meta.url)('@napi-rs/keyring') as { Entry: new (s: string, a: string, o?: object) => RawEntry };
  return new Entry(SERVICE, account, process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined);
}

/** null when the keychain keeps a value written to it; otherwise why not. */
function keychainProblem(): string | null {
  try {
    const entry = rawEntry('probe');
    entry.setPassword('probe');
    const back = entry.getPassword();
    entry.deletePassword();
    return back === 'probe' ? null : 'the keychain did not keep a value written to it';
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'unknown error';
  }
}

const problem = keychainProblem();
const whereKeychain = problem === null ? it : it.skip;

describe('the database key in the OS keychain (issue 17)', () => {
  afterAll(() => {
    if (problem === null) rawEntry('database-key').deletePassword();
  });

  whereKeychain(`keeps the key in the keychain, not on disk, and opens the database with it again${problem === null ? '' : ` [skipped: no keychain answers here: ${problem}]`}`, () => {
    const home = makeTempHome();
    try {
      process.umask(0o077);
      ensurePrivateDirectory(home.paths.home);
      const sources: KeySources = { keychain: () => keychainSource({ service: SERVICE }), key_file: () => keyFileSource(home.paths.keyFile, home.paths.home) };
      const open = () => TokenStore.open(home.paths.database, { dataKey: (sealedBy) => resolveDataKey({ sealedBy, choice: 'auto', sources, database: home.paths.database }) });
      const store = open();
      expect(store.encryption).toMatchObject({ provider: 'keychain', keyCreated: true, passedOver: [] });
      store.saveCredential(newCredential({ accessToken: new Secret('keychain-access-0123456789') }));
      store.close();
      expect(existsSync(home.paths.keyFile)).toBe(false);
      const again = open();
      expect(again.encryption).toMatchObject({ provider: 'keychain', keyCreated: false });
      expect(again.findByResource('https://mcp.example.com/mcp')?.accessToken.reveal()).toBe('keychain-access-0123456789');
      again.close();
    } finally {
      home.remove();
    }
  });

  it('pins Linux to the Secret Service: the kernel keyring forgets its keys at reboot', () => {
    let asked: unknown;
    keychainSource({ load: () => ({ Entry: class { constructor(_s: string, _a: string, options?: unknown) { asked = options; } getPassword() { return null; } setPassword() {} } }) });
    expect(asked).toEqual(process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined);
  });
});
