/**
 * Encryption at rest of the store's secret columns (issue 17): AES-256-GCM
 * (node:crypto), a fresh 96-bit IV per write, and the row's identity (table,
 * column, primary key) as additional data, so a ciphertext copied onto
 * another row, or into another column of the same row, fails to open.
 *
 * Stored form: `sealed1:` + base64url(iv ‖ ciphertext ‖ tag). The prefix names
 * the format so a later one can be told apart; a sealed database holds only
 * this form in its secret columns (a plaintext value there is refused, not
 * served). Lookup keys and metadata stay plaintext and queryable.
 *
 * Which columns are sealed is declared once per table in SEALED_TABLES:
 * adding a secret column is one line there.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { AuthdError } from '../../shared/errors.js';

/** One table's sealed columns and the primary-key columns that name a row. */
export interface SealedTable {
  readonly primaryKey: readonly string[];
  readonly secrets: readonly string[];
}

/**
 * Every secret column of the store. A new secret column goes here (and only
 * here), in the table's `secrets`; a new table with secrets gets one entry.
 */
export const SEALED_TABLES = {
  credentials: { primaryKey: ['resource_key'], secrets: ['access_token', 'refresh_token', 'dpop_key'] },
  client_registrations: { primaryKey: ['issuer', 'client_id'], secrets: ['client_secret', 'registration_access_token', 'client_key'] },
  idp_sessions: { primaryKey: ['issuer'], secrets: ['client_secret', 'id_token', 'refresh_token'] },
} as const satisfies Record<string, SealedTable>;

export type SealedTableName = keyof typeof SEALED_TABLES;

/** The data key's length: AES-256. */
export const DATA_KEY_BYTES = 32;
export const SEALED_PREFIX = 'sealed1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

type Row = Record<string, unknown>;

/** What the store does to a row's secret columns on the way in and out. */
export interface RowCodec {
  sealRow<T extends object>(table: SealedTableName, row: T): T;
  openRow<T extends object>(table: SealedTableName, row: T): T;
}

/** A store without a data key: rows as they are (tools and tests that plant rows before the daemon's first start). */
export const PLAINTEXT: RowCodec = { sealRow: (_table, row) => row, openRow: (_table, row) => row };

export class Sealer implements RowCodec {
  readonly #key: Buffer;
  /** HMAC of a fixed label under a key derived from the data key: tells a wrong key from a damaged row, reveals nothing of the key. */
  readonly keyCheck: string;

  constructor(dataKey: Uint8Array) {
    if (dataKey.length !== DATA_KEY_BYTES) throw new AuthdError('STORE_UNAVAILABLE', `the database key must be ${DATA_KEY_BYTES} bytes, got ${dataKey.length}`);
    // Separate keys for encryption and for the check value, both from the one data key.
    this.#key = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'mcpauthd sealing v1', DATA_KEY_BYTES));
    const checkKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'mcpauthd key check v1', DATA_KEY_BYTES));
    this.keyCheck = createHmac('sha256', checkKey).update('mcpauthd database key').digest('base64url');
  }

  seal(table: SealedTableName, column: string, rowKey: readonly string[], plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(additionalData(table, column, rowKey));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The plaintext of a sealed value; a clear error (naming the row, never the value) when it does not open. */
  open(table: SealedTableName, column: string, rowKey: readonly string[], stored: string): string {
    const where = `${table}.${column} of ${rowKey.join(' / ')}`;
    if (!stored.startsWith(SEALED_PREFIX)) {
      throw new AuthdError('STORE_UNAVAILABLE', `${where} is not sealed in an encrypted database (written by something other than mcpauthd?); log in to that server again`);
    }
    const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new AuthdError('STORE_UNAVAILABLE', `${where} is damaged (too short to be sealed); log in to that server again`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(additionalData(table, column, rowKey));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new AuthdError(
        'STORE_UNAVAILABLE',
        `${where} does not decrypt: it was changed, or copied from another row; log in to that server again (mcpauthd logout, then login)`,
        { cause: err },
      );
    }
  }

  /** A copy of `row` with every declared secret column of `table` that it holds (and is not null) sealed. */
  sealRow<T extends object>(table: SealedTableName, row: T): T {
    return this.#map(table, row, (column, key, value) => this.seal(table, column, key, value));
  }

  /** A copy of `row` with every declared secret column of `table` that it holds (and is not null) opened. */
  openRow<T extends object>(table: SealedTableName, row: T): T {
    return this.#map(table, row, (column, key, value) => this.open(table, column, key, value));
  }

  #map<T extends object>(table: SealedTableName, row: T, fn: (column: string, key: readonly string[], value: string) => string): T {
    const spec: SealedTable = SEALED_TABLES[table];
    const fields = row as Row;
    const key = rowKeyOf(table, fields);
    const out: Row = { ...fields };
    for (const column of spec.secrets) {
      const value = fields[column];
      if (typeof value === 'string') out[column] = fn(column, key, value);
    }
    return out as T;
  }
}

/** The primary-key values of `row` in declaration order; every one must be there. */
export function rowKeyOf(table: SealedTableName, row: Row): string[] {
  const spec: SealedTable = SEALED_TABLES[table];
  return spec.primaryKey.map((column) => {
    const value = row[column];
    if (typeof value !== 'string') throw new TypeError(`sealing ${table}: the row has no ${column}`);
    return value;
  });
}

/** Unambiguous by construction (a JSON array), so no two rows or columns share additional data. */
function additionalData(table: string, column: string, rowKey: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify(['mcpauthd', 1, table, column, ...rowKey]), 'utf8');
}
