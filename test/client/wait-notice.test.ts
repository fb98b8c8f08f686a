import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { WAIT_NOTICE_AFTER_MS, withWaitNotice, type WaitNoticeStream } from '../../client/cli/wait-notice.js';

function stream(isTTY: boolean): WaitNoticeStream & { text: () => string } {
  let text = '';
  return { isTTY, write: (chunk: string) => (text += chunk), text: () => text };
}

describe('the CLI notice while a refresh is waited for', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('should say nothing when the answer comes quickly', async () => {
    const out = stream(true);
    await expect(withWaitNotice(Promise.resolve('ok'), out)).resolves.toBe('ok');
    expect(out.text()).toBe('');
  });

  it('on a terminal: should count the seconds on one line and wipe it when the answer comes', async () => {
    jest.useFakeTimers();
    const out = stream(true);
    let answer: (value: string) => void = () => undefined;
    const waiting = withWaitNotice(new Promise<string>((resolve) => (answer = resolve)), out, () => Date.now());
    await jest.advanceTimersByTimeAsync(WAIT_NOTICE_AFTER_MS + 10_000);
    expect(out.text()).toContain('\r\x1b[Kwaiting for the authorization server (2 s; the daemon waits up to 130 s)…');
    expect(out.text()).toContain('(12 s;');
    expect(out.text()).not.toContain('\n');
    answer('ok');
    await expect(waiting).resolves.toBe('ok');
    expect(out.text().endsWith('\r\x1b[K')).toBe(true);
    const written = out.text().length;
    await jest.advanceTimersByTimeAsync(5_000);
    expect(out.text()).toHaveLength(written);
  });

  it('elsewhere: should write one plain line once, and pass a failure on unchanged', async () => {
    jest.useFakeTimers();
    const out = stream(false);
    let fail: (err: Error) => void = () => undefined;
    const waiting = withWaitNotice(new Promise<string>((_resolve, reject) => (fail = reject)), out, () => Date.now());
    await jest.advanceTimersByTimeAsync(WAIT_NOTICE_AFTER_MS + 30_000);
    expect(out.text()).toBe('mcpauthd: waiting for the authorization server (2 s; the daemon waits up to 130 s)…\n');
    const err = new Error('refresh_failed');
    fail(err);
    await expect(waiting).rejects.toBe(err);
    expect(out.text().split('\n')).toHaveLength(2);
  });
});
