/**
 * The whole status, page by page: the daemon sends credentials in pages that
 * fit a frame, and callers want one list. Pages are followed by cursor (by
 * key), so a login or logout meanwhile neither skips nor repeats one; a
 * daemon that predates cursors is followed by offset.
 */
import { AuthdError } from '../shared/errors.js';
import type { StatusParams, StatusResult } from '../shared/protocol/types.js';
import type { Connection } from './connection.js';

/** Enough pages for a million credentials; a daemon that never ends paging is broken. */
const MAX_PAGES = 100_000;

function nextParams(page: StatusResult, previous: StatusParams): StatusParams | null {
  if (typeof page.next_cursor === 'string') {
    if (page.next_cursor === previous.cursor) throw new AuthdError('PROTOCOL_ERROR', 'the daemon sent status pages that do not move on');
    return { cursor: page.next_cursor };
  }
  if (page.next_cursor === undefined && page.next_offset !== null) {
    if (page.next_offset <= (previous.offset ?? 0)) throw new AuthdError('PROTOCOL_ERROR', 'the daemon sent status pages that do not move on');
    return { offset: page.next_offset };
  }
  return null;
}

export async function requestFullStatus(connection: Connection, timeoutMs: number): Promise<StatusResult> {
  const first = await connection.request('status', {}, { timeoutMs });
  const credentials = [...first.credentials];
  let params = nextParams(first, {});
  for (let page = 1; params !== null; page++) {
    if (page > MAX_PAGES) throw new AuthdError('PROTOCOL_ERROR', 'the daemon sent status pages that do not move on');
    const result = await connection.request('status', params, { timeoutMs });
    credentials.push(...result.credentials);
    params = nextParams(result, params);
  }
  return {
    daemon: first.daemon,
    credentials,
    total: credentials.length,
    next_cursor: null,
    next_offset: null,
    // IdP sessions come with the first page only.
    ...(first.idp_sessions === undefined ? {} : { idp_sessions: first.idp_sessions }),
  };
}
