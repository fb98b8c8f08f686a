/**
 * Sessions at company identity providers (enterprise-managed authorization,
 * issue 16 item 5): one row per IdP issuer holding the ID token and its
 * refresh token, which the daemon exchanges for ID-JAGs (RFC 8693) when it
 * logs in to an MCP server. Secrets (client_secret, id_token, refresh_token)
 * leave this module only inside Secret objects.
 */
import type Database from 'better-sqlite3';
import { Secret } from './secret.js';
import type { RowCodec } from './sealing.js';

export interface IdpSession {
  issuer: string;
  /** The client registered at the IdP for mcpauthd (enterprise IdPs pre-register it). */
  clientId: string;
  clientSecret: Secret | null;
  idToken: Secret;
  /** The ID token's `exp`, epoch ms; null when it has none. */
  idTokenExpiresAt: number | null;
  refreshToken: Secret | null;
  /** The ID token's `sub`: who the session is, for `status`. Not a secret. */
  subject: string | null;
  createdAt: number;
  updatedAt: number;
}

export type NewIdpSession = Omit<IdpSession, 'createdAt' | 'updatedAt'>;

/** What `status` shows of a session: never a token. */
export type IdpSessionListing = Omit<IdpSession, 'clientSecret' | 'idToken' | 'refreshToken'> & { hasRefreshToken: boolean };

interface IdpSessionRow {
  issuer: string;
  client_id: string;
  client_secret: string | null;
  id_token: string;
  id_token_expires_at: number | null;
  refresh_token: string | null;
  subject: string | null;
  created_at: number;
  updated_at: number;
}

const secretOrNull = (value: string | null): Secret | null => (value === null || value === '' ? null : new Secret(value));

function toSession(row: IdpSessionRow): IdpSession {
  return {
    issuer: row.issuer,
    clientId: row.client_id,
    clientSecret: secretOrNull(row.client_secret),
    idToken: new Secret(row.id_token),
    idTokenExpiresAt: row.id_token_expires_at,
    refreshToken: secretOrNull(row.refresh_token),
    subject: row.subject,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The idp_sessions table. Created by the token store on its connection. */
export class IdpSessions {
  readonly #upsert: Database.Statement;
  readonly #get: Database.Statement;
  readonly #list: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #dependents: Database.Statement;
  readonly #now: () => number;
  /** Seals the secret columns on the way in, opens them on the way out (sealing.ts SEALED_TABLES). */
  readonly #codec: RowCodec;

  constructor(db: Database.Database, now: () => number, codec: RowCodec) {
    this.#now = now;
    this.#codec = codec;
    this.#upsert = db.prepare(
      `INSERT INTO idp_sessions (issuer, client_id, client_secret, id_token, id_token_expires_at, refresh_token, subject, created_at, updated_at)
       VALUES (@issuer, @client_id, @client_secret, @id_token, @id_token_expires_at, @refresh_token, @subject, @now, @now)
       ON CONFLICT (issuer) DO UPDATE SET client_id = excluded.client_id, client_secret = excluded.client_secret,
         id_token = excluded.id_token, id_token_expires_at = excluded.id_token_expires_at,
         refresh_token = excluded.refresh_token, subject = excluded.subject, updated_at = excluded.updated_at`,
    );
    this.#get = db.prepare('SELECT * FROM idp_sessions WHERE issuer = ?');
    this.#list = db.prepare('SELECT * FROM idp_sessions ORDER BY issuer');
    this.#delete = db.prepare('DELETE FROM idp_sessions WHERE issuer = ?');
    this.#dependents = db.prepare(
      `SELECT resource FROM credentials WHERE grant_kind = 'enterprise' AND json_extract(login_options, '$.idp_issuer') = ? ORDER BY resource_key`,
    );
  }

  /** Stores a session, replacing the one for the same issuer. */
  save(session: NewIdpSession): IdpSession {
    this.#upsert.run(this.#codec.sealRow('idp_sessions', {
      issuer: session.issuer,
      client_id: session.clientId,
      client_secret: session.clientSecret?.reveal() ?? null,
      id_token: session.idToken.reveal(),
      id_token_expires_at: session.idTokenExpiresAt,
      refresh_token: session.refreshToken?.reveal() ?? null,
      subject: session.subject,
      now: this.#now(),
    }));
    const saved = this.get(session.issuer);
    if (saved === undefined) throw new Error('idp session vanished right after it was saved');
    return saved;
  }

  /** Exact lookup by issuer, as given at `idp login`. */
  get(issuer: string): IdpSession | undefined {
    const row = this.#get.get(issuer) as IdpSessionRow | undefined;
    return row === undefined ? undefined : toSession(this.#codec.openRow('idp_sessions', row));
  }

  list(): IdpSessionListing[] {
    // Listing needs no secret opened: only whether a refresh token is there.
    return (this.#list.all() as IdpSessionRow[]).map((row) => {
      const { clientSecret: _c, idToken: _i, refreshToken, ...rest } = toSession(row);
      return { ...rest, hasRefreshToken: refreshToken !== null };
    });
  }

  /** Resources of the credentials obtained with the session at `issuer`. */
  dependents(issuer: string): string[] {
    return (this.#dependents.all(issuer) as { resource: string }[]).map((row) => row.resource);
  }

  delete(issuer: string): boolean {
    return this.#delete.run(issuer).changes > 0;
  }
}
