/**
 * One page of `status`: credential summaries in resource-key order, filled up
 * to a byte budget, read from the store in small token-free batches. Paged by
 * key (`cursor` = the last key on the previous page), so a login or logout
 * between pages neither skips nor repeats a credential, and each page costs
 * the rows it shows (plus at most one batch read ahead), not the whole table.
 */
import { AuthdError } from '../../shared/errors.js';
import { type DaemonInfo, type StatusParams, type StatusResult } from '../../shared/protocol/types.js';
import { type CredentialSummary } from '../../shared/protocol/credential-types.js';
import { type IdpSessionSummary } from '../../shared/protocol/login-types.js';
import { STATUS_PAGE_BYTES } from '../../shared/protocol/framing.js';
import { summarize } from '../serve/credential-view.js';
import type { TokenStore } from './token-store.js';
import type { IdpSessionListing } from './idp-sessions.js';

function idpSessionSummary(s: IdpSessionListing): Omit<IdpSessionSummary, 'credentials'> {
  return {
    issuer: s.issuer,
    client_id: s.clientId,
    subject: s.subject,
    id_token_expires_at: s.idTokenExpiresAt === null ? null : Math.floor(s.idTokenExpiresAt / 1000),
    has_refresh_token: s.hasRefreshToken,
  };
}

/** Rows read per batch: a page of about 40 KiB holds some 60-150 summaries. */
export const STATUS_BATCH_ROWS = 64;

export function statusPage(store: TokenStore, info: DaemonInfo, params: StatusParams, now: number): StatusResult {
  if (params.cursor !== undefined && params.offset !== undefined) throw new AuthdError('invalid_request', 'give "cursor" or "offset", not both');
  const credentials: CredentialSummary[] = [];
  let bytes = 0;
  let after = params.cursor;
  const offset = params.offset ?? 0;
  let lastKey: string | undefined;
  let more = false;
  fill: for (;;) {
    const batch = store.listSummaries(after === undefined ? { offset } : { after }, STATUS_BATCH_ROWS);
    for (const listing of batch) {
      const summary = summarize(listing, now);
      bytes += Buffer.byteLength(JSON.stringify(summary));
      // At least one credential per page so paging always moves on.
      if (credentials.length > 0 && bytes > STATUS_PAGE_BYTES) {
        more = true;
        break fill;
      }
      credentials.push(summary);
      lastKey = listing.resourceKey;
    }
    if (batch.length < STATUS_BATCH_ROWS) break;
    // Later batches continue by key even on an offset page: no row is read twice.
    after = lastKey;
  }
  const nextCursor = more && lastKey !== undefined ? lastKey : null;
  const first = params.cursor === undefined && offset === 0;
  const sessions = first ? store.idpSessions.list() : [];
  return {
    ...(sessions.length === 0 ? {} : { idp_sessions: sessions.map((s) => ({ ...idpSessionSummary(s), credentials: store.idpSessions.dependents(s.issuer) })) }),
    daemon: info,
    credentials,
    total: store.count(),
    next_cursor: nextCursor,
    next_offset: nextCursor !== null && (params.cursor === undefined) ? offset + credentials.length : null,
  };
}
