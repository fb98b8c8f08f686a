/**
 * What the CLI says on stderr while a request waits on a slow authorization
 * server (a refresh may take up to DAEMON_REFRESH_LONGEST_MS in the daemon):
 * on a terminal one line that counts the seconds and is wiped when the answer
 * comes; anywhere else (a log, a pipe) one plain line, written once, so
 * nothing but the answer ever lands on stdout and logs stay readable.
 */
import { DAEMON_REFRESH_LONGEST_MS } from '../../shared/refresh-timing.js';

/** Quiet this long first: a refresh usually answers well within it. */
export const WAIT_NOTICE_AFTER_MS = 2_000;

export interface WaitNoticeStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** The notice for `elapsedMs` of waiting. */
export function waitNoticeText(elapsedMs: number): string {
  return `waiting for the authorization server (${Math.floor(elapsedMs / 1000)} s; the daemon waits up to ${Math.round(DAEMON_REFRESH_LONGEST_MS / 1000)} s)…`;
}

/** Resolves like `work`, writing the waiting notice to `stream` while it takes longer than WAIT_NOTICE_AFTER_MS. */
export async function withWaitNotice<T>(work: Promise<T>, stream: WaitNoticeStream, now: () => number = Date.now): Promise<T> {
  const started = now();
  const tty = stream.isTTY === true;
  let shown = false;
  let ticker: NodeJS.Timeout | undefined;
  const show = (): void => {
    const text = waitNoticeText(now() - started);
    stream.write(tty ? `\r\x1b[K${text}` : `mcpauthd: ${text}\n`);
    shown = true;
  };
  // Neither timer keeps the process alive: the pending request does.
  const first = setTimeout(() => {
    show();
    if (tty) {
      ticker = setInterval(show, 1_000);
      ticker.unref();
    }
  }, WAIT_NOTICE_AFTER_MS);
  first.unref();
  try {
    return await work;
  } finally {
    clearTimeout(first);
    clearInterval(ticker);
    if (shown && tty) stream.write('\r\x1b[K');
  }
}
