/**
 * The store as the daemon opens it (issue 17): sealed with the key file of
 * `paths`, so a test can plant rows before a daemon starts, or read them after
 * one stopped, on a database the daemon has encrypted.
 */
import { defaultKeySources, keyFileSource, resolveDataKey } from '../../daemon/store/key-provider.js';
import { Sealer } from '../../daemon/store/sealing.js';
import { TokenStore, type TokenStoreOptions } from '../../daemon/store/token-store.js';
import type { Paths } from '../../shared/paths.js';

export function openSealedStore(paths: Paths, options: Omit<TokenStoreOptions, 'dataKey'> = {}): TokenStore {
  const sources = defaultKeySources(paths);
  return TokenStore.open(paths.database, { ...options, dataKey: (sealedBy) => resolveDataKey({ sealedBy, choice: 'key_file', sources, database: paths.database }) });
}

/**
 * Rows read straight from the database file (readonly, beside a running or
 * killed daemon) with their sealed columns opened with the key file of
 * `paths`; each row needs its primary key (resource_key). Rows of a database
 * not sealed yet (no key file) come back as they are.
 */
export function openRawCredentialRows<T extends { resource_key: string }>(paths: Paths, rows: T[]): T[] {
  const key = keyFileSource(paths.keyFile, paths.home).read();
  if (key === undefined) return rows;
  const sealer = new Sealer(key);
  return rows.map((row) => sealer.openRow('credentials', row));
}
