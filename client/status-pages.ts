/**
 * The whole status, page by page: the daemon sends credentials in pages that
 * fit a frame, and callers want one list.
 */
import { AuthdError } from '../shared/errors.js';
import type { StatusResult } from '../shared/protocol.js';
import type { Connection } from './connection.js';

/** Enough pages for a million credentials; a daemon that never ends paging is broken. */
const MAX_PAGES = 100_000;

export async function requestFullStatus(connection: Connection, timeoutMs: number): Promise<StatusResult> {
  const first = await connection.request('status', {}, { timeoutMs });
  const credentials = [...first.credentials];
  let offset = 0;
  let next = first.next_offset;
  for (let page = 1; next !== null; page++) {
    if (page > MAX_PAGES || next <= offset) throw new AuthdError('PROTOCOL_ERROR', 'the daemon sent status pages that do not move on');
    offset = next;
    const result = await connection.request('status', { offset }, { timeoutMs });
    credentials.push(...result.credentials);
    next = result.next_offset;
  }
  return { daemon: first.daemon, credentials, total: credentials.length, next_offset: null };
}
