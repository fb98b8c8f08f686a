/**
 * Where the database key comes from (issue 17), tried in order: the OS
 * keychain (macOS Keychain, Linux Secret Service, through @napi-rs/keyring),
 * then a key file in the config directory (0600, outside the state
 * directory). A database already sealed is opened only with the provider
 * that sealed it: a keychain that is locked or gone, or a missing key file,
 * is a clear error with the fix, never a fallback to another key or to
 * plaintext, and nothing is created or changed on disk then.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, relative, isAbsolute } from 'node:path';
import { AuthdError } from '../../shared/errors.js';
import { KEY_PROVIDER_FACTS, KEY_PROVIDERS, type KeyProviderChoice, type KeyProviderName } from '../../shared/key-providers.js';
import { lstatOrNull, ownerOnlyProblem } from '../../shared/owner-only.js';
import { ensurePrivateDirectory } from '../os/private-path.js';
import { DATA_KEY_BYTES } from './sealing.js';

/** One place a key can live. */
export interface KeySource {
  readonly name: KeyProviderName;
  /** Where, for status and error messages (never the key). */
  readonly location: string;
  /** The stored key; undefined when none is stored. Throws KEY_UNAVAILABLE when the store cannot be asked. */
  read(): Buffer | undefined;
  /** Stores a new random key and returns it; only called after read() found none. */
  create(): Buffer;
}

export interface DataKey {
  key: Buffer;
  provider: KeyProviderName;
  location: string;
  /** A new key was made by this start. */
  created: boolean;
  /** Providers tried before this one and why they were passed over (auto choice, new database only). */
  passedOver: string[];
}

/** Builds a source on demand: the keychain binding is loaded only when it is asked. */
export type KeySources = Readonly<Record<KeyProviderName, () => KeySource>>;

/**
 * The key for a database sealed by `sealedBy` (null: not sealed yet). A
 * sealed database: only its provider, and a missing key is an error. A new
 * or plaintext one: `choice`, or with `auto` the first provider that works.
 */
export function resolveDataKey(input: { sealedBy: KeyProviderName | null; choice: KeyProviderChoice; sources: KeySources; database: string }): DataKey {
  const { sealedBy, choice, sources, database } = input;
  if (sealedBy !== null) {
    if (choice !== 'auto' && choice !== sealedBy) {
      throw new AuthdError(
        'KEY_UNAVAILABLE',
        `the database ${database} is encrypted with a key from ${KEY_PROVIDER_FACTS[sealedBy].label}, but MCPAUTHD_KEY_PROVIDER asks for ${choice}. Fix: unset MCPAUTHD_KEY_PROVIDER (or set it to ${sealedBy})`,
      );
    }
    const source = sources[sealedBy]();
    const key = source.read();
    if (key === undefined) throw missingKey(sealedBy, source.location, database);
    return { key, provider: sealedBy, location: source.location, created: false, passedOver: [] };
  }
  const order = choice === 'auto' ? KEY_PROVIDERS : [choice];
  const passedOver: string[] = [];
  for (const [i, name] of order.entries()) {
    try {
      const source = sources[name]();
      const existing = source.read();
      const key = existing ?? source.create();
      return { key, provider: name, location: source.location, created: existing === undefined, passedOver };
    } catch (err) {
      if (i === order.length - 1) throw err;
      passedOver.push(`${KEY_PROVIDER_FACTS[name].label}: ${(err as Error).message}`);
    }
  }
  throw new AuthdError('KEY_UNAVAILABLE', 'no key provider to try');
}

function missingKey(provider: KeyProviderName, location: string, database: string): AuthdError {
  const where = provider === 'key_file' ? `the key file ${location}, which is missing` : `a key in ${location}, which has no mcpauthd database key`;
  return new AuthdError(
    'KEY_UNAVAILABLE',
    `the database ${database} is encrypted with ${where}; nothing was changed. Fix: restore the key from your backup of ${provider === 'key_file' ? 'the config directory' : 'the keychain'}; without it the stored credentials cannot be read: move ${database} aside and log in again`,
  );
}

// ---------------------------------------------------------------- key file

/** The key file: base64url of 32 random bytes and a newline, 0600 in a 0700 config directory. */
export function keyFileSource(file: string, stateDir: string): KeySource {
  const dir = dirname(file);
  const inside = relative(stateDir, file);
  if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
    throw new AuthdError('KEY_UNAVAILABLE', `the key file ${file} is inside the state directory ${stateDir}, so a copy of that directory would carry its own key. Fix: set MCPAUTHD_CONFIG_DIR to a directory outside it`);
  }
  return {
    name: 'key_file',
    location: file,
    read() {
      if (!assertPrivate(dir, 'directory') || !assertPrivate(file, 'file')) return undefined;
      return decodeKey(readFileSync(file, 'utf8'), `the key file ${file}`);
    },
    create() {
      ensurePrivateDirectory(dir);
      const key = randomBytes(DATA_KEY_BYTES);
      const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      const fd = openSync(temp, 'wx', 0o600);
      try {
        writeSync(fd, `${key.toString('base64url')}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        // link, not rename: never replaces a key file that appeared meanwhile (another daemon's first start).
        linkSync(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        unlinkSync(temp);
        return this.read() ?? key;
      }
      unlinkSync(temp);
      syncDirectory(dir);
      return key;
    },
  };
}

/** False when missing; throws INSECURE_PERMISSIONS when not owner-only (a key someone else could read or swap). */
function assertPrivate(path: string, kind: 'directory' | 'file'): boolean {
  const stats = lstatOrNull(path);
  if (stats === null) return false;
  const found = ownerOnlyProblem(path, stats, kind);
  if (found !== null) throw new AuthdError('INSECURE_PERMISSIONS', `${kind === 'file' ? 'key file' : 'config directory'} ${found.problem}. Fix: ${found.fix}.`);
  return true;
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function decodeKey(text: string, what: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64url');
  if (!/^[A-Za-z0-9_-]+$/.test(trimmed) || key.length !== DATA_KEY_BYTES) {
    throw new AuthdError('KEY_UNAVAILABLE', `${what} does not hold an mcpauthd key (${DATA_KEY_BYTES} bytes, base64url). Fix: restore it from your backup`);
  }
  return key;
}

// ---------------------------------------------------------------- OS keychain

/** What we use of @napi-rs/keyring's synchronous Entry. */
interface KeyringEntry {
  getPassword(): string | null;
  setPassword(password: string): void;
}
interface KeyringModule {
  Entry: new (service: string, account: string, options?: { linux?: { store?: 'secret-service' | 'keyutils' } }) => KeyringEntry;
}

export const KEYCHAIN_SERVICE = 'mcpauthd';
export const KEYCHAIN_ACCOUNT = 'database-key';

/**
 * The OS keychain entry `service`/`account`. On Linux it is pinned to the
 * Secret Service: the binding's other Linux store, the kernel keyring, is
 * emptied at reboot, which would make the database unreadable.
 */
export function keychainSource(options: { service?: string; account?: string; load?: () => KeyringModule } = {}): KeySource {
  const service = options.service ?? KEYCHAIN_SERVICE;
  const account = options.account ?? KEYCHAIN_ACCOUNT;
  const location = `the OS keychain (service ${service}, account ${account})`;
  const fix =
    process.platform === 'darwin'
      ? 'unlock the login keychain (log in to the desktop session), then start the daemon again'
      : 'start the daemon inside your desktop session with the keyring unlocked (Secret Service on the session bus, DBUS_SESSION_BUS_ADDRESS set), then start it again';
  let entry: KeyringEntry;
  try {
    const keyring = (options.load ?? loadKeyring)();
    entry = new keyring.Entry(service, account, process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined);
  } catch (err) {
    throw new AuthdError('KEY_UNAVAILABLE', `${location} cannot be reached: ${firstLine(err)}. Fix: ${fix}`, { cause: err });
  }
  const ask = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new AuthdError('KEY_UNAVAILABLE', `${location} did not answer (${what}): ${firstLine(err)}. Fix: ${fix}`, { cause: err });
    }
  };
  return {
    name: 'keychain',
    location,
    read() {
      const stored = ask('read', () => entry.getPassword());
      return stored === null ? undefined : decodeKey(stored, location);
    },
    create() {
      const key = randomBytes(DATA_KEY_BYTES);
      ask('write', () => entry.setPassword(key.toString('base64url')));
      // Some stores accept a write they do not keep: trust only a key read back.
      const back = this.read();
      if (back === undefined || !back.equals(key)) throw new AuthdError('KEY_UNAVAILABLE', `${location} did not keep the key written to it. Fix: ${fix}`);
      return key;
    },
  };
}

function loadKeyring(): KeyringModule {
  try {
    return createRequire(import.meta.url)('@napi-rs/keyring') as KeyringModule;
  } catch (err) {
    throw new Error(`the optional package @napi-rs/keyring is not installed or has no binary for this platform (${firstLine(err)})`, { cause: err });
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'unknown error';
}

/** The sources the daemon uses: the keychain entry, then the key file of `paths`. */
export function defaultKeySources(paths: { keyFile: string; home: string }): KeySources {
  return { keychain: () => keychainSource(), key_file: () => keyFileSource(paths.keyFile, paths.home) };
}
