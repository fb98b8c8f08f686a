/**
 * A database's sealing state (issue 17): which key provider sealed it and the
 * key's check value (table `sealing`, schema 4), the check that a key is the
 * right one before anything is written, and the one-transaction migration of
 * a plaintext database. Driver types only; token-store.ts calls these in open().
 */
import type Database from 'better-sqlite3';
import { AuthdError } from '../../shared/errors.js';
import { KEY_PROVIDER_FACTS, KEY_PROVIDERS, type KeyProviderName } from '../../shared/key-providers.js';
import type { DataKey } from './key-provider.js';
import { PLAINTEXT, SEALED_PREFIX, SEALED_TABLES, Sealer, rowKeyOf, type RowCodec, type SealedTableName } from './sealing.js';

export const SEAL_FORMAT = 1;

export interface SealRecord {
  format: number;
  provider: KeyProviderName;
  keyCheck: string;
  sealedAt: number;
}

/** How a store's secrets are kept, for status. */
export interface EncryptionState {
  provider: KeyProviderName;
  location: string;
  keyCreated: boolean;
  passedOver: string[];
  /** Secret values sealed by this open's migration of a plaintext database (0: it was sealed already). */
  migratedValues: number;
}

export interface Sealing {
  /** What the store does to secret columns: the Sealer, or PLAINTEXT without a key. */
  codec: RowCodec;
  encryption: EncryptionState | null;
  /** A plaintext database was sealed by this open: its old pages must leave the WAL. */
  sealedNow: boolean;
}

/**
 * The sealing of a database being opened, around its schema migrations: the
 * key is asked for and checked before `migrate` writes anything (a wrong or
 * missing key changes nothing), and a plaintext database is sealed after it.
 * Without `dataKey` the store stays plaintext and a sealed database is refused.
 */
export function establishSealing(
  db: Database.Database,
  path: string,
  dataKey: ((sealedBy: KeyProviderName | null) => DataKey) | undefined,
  migrate: () => void,
  now: number,
): Sealing {
  const record = readSealRecord(db);
  if (dataKey === undefined) {
    if (record !== null) throw new AuthdError('KEY_UNAVAILABLE', `the database ${path} is encrypted; only the daemon (which has its key) opens it`);
    migrate();
    return { codec: PLAINTEXT, encryption: null, sealedNow: false };
  }
  const key = dataKey(record?.provider ?? null);
  const sealer = new Sealer(key.key);
  if (record !== null) assertKeyOpens(record, sealer, key, path);
  migrate();
  const migratedValues = record === null ? sealPlaintextDatabase(db, sealer, key.provider, now) : 0;
  return {
    codec: sealer,
    encryption: { provider: key.provider, location: key.location, keyCreated: key.created, passedOver: key.passedOver, migratedValues },
    sealedNow: record === null,
  };
}

/** The seal record, or null for a plaintext database (or one from before schema 4). */
export function readSealRecord(db: Database.Database): SealRecord | null {
  const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sealing'").get();
  if (table === undefined) return null;
  const row = db.prepare('SELECT format, provider, key_check, sealed_at FROM sealing WHERE id = 1').get() as
    | { format: number; provider: string; key_check: string; sealed_at: number }
    | undefined;
  if (row === undefined) return null;
  if (row.format !== SEAL_FORMAT || !KEY_PROVIDERS.includes(row.provider as KeyProviderName)) {
    throw new AuthdError('STORE_UNAVAILABLE', `the database is sealed in a format this mcpauthd does not know (format ${row.format}, provider ${row.provider}); upgrade mcpauthd`);
  }
  return { format: row.format, provider: row.provider as KeyProviderName, keyCheck: row.key_check, sealedAt: row.sealed_at };
}

/** Refuses a key that is not the one the database was sealed with, before anything is written. */
export function assertKeyOpens(record: SealRecord, sealer: Sealer, key: DataKey, database: string): void {
  if (record.keyCheck === sealer.keyCheck) return;
  throw new AuthdError(
    'KEY_MISMATCH',
    `the key from ${key.location} does not open the database ${database} (another key: was the key replaced, or the database copied from elsewhere?); nothing was changed. ` +
      `Fix: put back the key this database was sealed with (${KEY_PROVIDER_FACTS[record.provider].label}); without it the stored credentials cannot be read: move ${database} aside and log in again`,
  );
}

/**
 * Seals every declared secret column of every row, and records the seal, in
 * one transaction: a crash leaves the database wholly plaintext or wholly
 * sealed. secure_delete (on for every connection) zeroes the old cells; the
 * caller checkpoints the WAL afterwards so no plaintext page stays in it.
 * @returns how many values were sealed.
 */
export function sealPlaintextDatabase(db: Database.Database, sealer: Sealer, provider: KeyProviderName, now: number): number {
  let sealed = 0;
  db.transaction(() => {
    for (const table of Object.keys(SEALED_TABLES) as SealedTableName[]) {
      const { primaryKey, secrets } = SEALED_TABLES[table];
      const rows = db.prepare(`SELECT ${[...primaryKey, ...secrets].join(', ')} FROM ${table}`).all() as Record<string, string | null>[];
      const update = db.prepare(`UPDATE ${table} SET ${secrets.map((c) => `${c} = @${c}`).join(', ')} WHERE ${primaryKey.map((c) => `${c} = @${c}`).join(' AND ')}`);
      for (const row of rows) {
        for (const column of secrets) {
          const value = row[column];
          // A value already in sealed form in a database without a seal record cannot be ours: refuse rather than guess.
          if (typeof value === 'string' && value.startsWith(SEALED_PREFIX)) {
            throw new AuthdError('STORE_UNAVAILABLE', `${table}.${column} of ${rowKeyOf(table, row).join(' / ')} is already sealed but the database has no seal record; move the database aside and log in again`);
          }
          if (typeof value === 'string') sealed++;
        }
        update.run(sealer.sealRow(table, row));
      }
    }
    db.prepare('INSERT INTO sealing (id, format, provider, key_check, sealed_at) VALUES (1, ?, ?, ?, ?)').run(SEAL_FORMAT, provider, sealer.keyCheck, now);
  })();
  return sealed;
}
