/**
 * The database key's providers as users read about them: what each one
 * protects against and what it does not. The daemon names its provider in
 * `status` (`daemon.encryption`); `status` and `doctor` print these words, so
 * both say the same thing (issue 17).
 */
import { AuthdError } from './errors.js';
import type { KeyProviderName } from './protocol/types.js';

export type { KeyProviderName } from './protocol/types.js';
/** Where the daemon's database key lives, in the order they are tried. */
export const KEY_PROVIDERS: readonly KeyProviderName[] = ['keychain', 'key_file'];

export interface KeyProviderFacts {
  label: string;
  /** What a thief does not get. */
  protects: string;
  /** What still gets the tokens. */
  exposes: string;
}

export const KEY_PROVIDER_FACTS: Readonly<Record<KeyProviderName, KeyProviderFacts>> = {
  keychain: {
    label: 'the OS keychain (macOS Keychain, Linux Secret Service)',
    protects:
      'a copied state directory, a backup or a disk image of it: the key is not on disk beside the database, and the keychain is encrypted with your login password',
    exposes: 'a process running as you while the keychain is unlocked can ask for the key, as it can ask the daemon for tokens',
  },
  key_file: {
    label: 'a key file in the config directory (0600)',
    protects:
      'a copied state directory or a backup of it alone: the key lives in another directory, so a copy of the database without the config directory is useless',
    exposes:
      'anyone who can read both directories (a full home backup, a disk image, root, a process running as you); prefer the keychain where one runs',
  },
};

/** Choices for MCPAUTHD_KEY_PROVIDER: `auto` tries KEY_PROVIDERS in order. */
export type KeyProviderChoice = 'auto' | KeyProviderName;

export function parseKeyProviderChoice(value: string | undefined): KeyProviderChoice {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'keychain' || value === 'key_file') return value;
  throw new AuthdError('USAGE', `MCPAUTHD_KEY_PROVIDER must be auto, keychain or key_file, not ${JSON.stringify(value)}`);
}
