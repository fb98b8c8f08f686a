/**
 * The token store's read cache: three bounded maps of frozen records, so
 * `token.get` runs no SQL on its hot path. It holds only committed rows: the
 * store asks for nothing to be remembered inside a transaction, and forgets
 * before every credential write (see token-store.ts).
 */
import { resourceKey } from '../../shared/resource-uri.js';
import type { CredentialRecord } from './records.js';

/**
 * Credentials kept in the read cache; beyond this the oldest entry goes. A
 * cached record costs about 1.5 kB (mostly its tokens), so a full cache is
 * about 25 MB: well inside the memory budget for 10,000 credentials.
 */
export const CREDENTIAL_CACHE_SIZE = 16_384;

export class CredentialCache {
  /** Read cache: resource key → record as last read from the database. */
  readonly #byKey = new Map<string, CredentialRecord>();
  /** Read cache: server key → resource key, or null for "no credential has this server URL". */
  readonly #serverKeys = new Map<string, string | null>();
  /** URL as asked for → its lookup key (a pure function, memoised: parsing a URL costs more than the lookup). */
  readonly #keys = new Map<string, string>();
  /**
   * Read cache, first level: a server URL exactly as it was asked for → the
   * record found for it. One lookup instead of three on token.get's path: with
   * 10,000 credentials asked for at random, the cache misses of the three were
   * an eighth of the daemon's busy time (docs/benchmarks.md). Emptied by every
   * credential write, whichever credential it touches, so it can never hold a
   * record the levels below have forgotten; it refills on the next reads.
   */
  readonly #byServerUrl = new Map<string, CredentialRecord>();

  /** resourceKey(url), memoised; throws as it does for a URL that is not one. */
  keyOf(url: string): string {
    const known = this.#keys.get(url);
    if (known !== undefined) return known;
    const key = resourceKey(url);
    remember(this.#keys, url, key);
    return key;
  }

  byServerUrl(serverUrl: string): CredentialRecord | undefined {
    return this.#byServerUrl.get(serverUrl);
  }

  rememberServerUrl(serverUrl: string, record: CredentialRecord): void {
    remember(this.#byServerUrl, serverUrl, record);
  }

  /** The resource key a server key maps to; null when known to map to none, undefined when not known. */
  serverKey(serverKey: string): string | null | undefined {
    return this.#serverKeys.get(serverKey);
  }

  rememberServerKey(serverKey: string, resourceKeyOrNone: string | null): void {
    remember(this.#serverKeys, serverKey, resourceKeyOrNone);
  }

  byKey(key: string): CredentialRecord | undefined {
    return this.#byKey.get(key);
  }

  rememberKey(key: string, record: CredentialRecord): void {
    remember(this.#byKey, key, record);
  }

  /** Before a write to one credential: drop it, and the first level whole (it may hold it under any URL). */
  forget(key: string): void {
    this.#byKey.delete(key);
    this.#byServerUrl.clear();
  }

  /** Before a write that may move server URLs between credentials, and on close. */
  forgetAll(): void {
    this.#byServerUrl.clear();
    this.#byKey.clear();
    this.#serverKeys.clear();
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= CREDENTIAL_CACHE_SIZE && !map.has(key)) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}
