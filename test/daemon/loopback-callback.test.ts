import net from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { checkAuthorizationResponse, LoopbackCallback } from '../../daemon/oauth/loopback-callback.js';
import type { AuthorizationResponse } from '../../daemon/oauth/loopback-callback.js';
import { AuthdError } from '../../shared/errors.js';

const ISSUER = 'https://as.example';
const STATE = 'state-123';
const CODE = 'authorization-code-ABC123xyz';

const open: LoopbackCallback[] = [];
async function listen(options: { timeoutMs?: number; signal?: AbortSignal } = {}, issRequired = true): Promise<LoopbackCallback> {
  const callback = await LoopbackCallback.listen(options);
  open.push(callback);
  callback.expect({ state: STATE, issuer: ISSUER, issRequired });
  return callback;
}
afterEach(() => {
  for (const callback of open.splice(0)) callback.close();
});

function query(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

async function reason(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AuthdError) return err.data?.['reason'];
    throw err;
  }
  throw new Error('expected a failure');
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends raw bytes on one connection and returns everything the server wrote before closing. */
function raw(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.end(payload));
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
    });
    socket.once('close', () => resolve(received));
    socket.once('error', reject);
  });
}

function portOf(callback: LoopbackCallback): number {
  return Number(new URL(callback.redirectUri).port);
}

describe('loopback callback listener', () => {
  it('A4: is bound to 127.0.0.1 on an ephemeral port and accepts connections as soon as listen() resolves', async () => {
    const callback = await listen();
    const url = new URL(callback.redirectUri);
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.pathname).toBe('/callback');
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(await connects(portOf(callback))).toBe(true);
  });

  it('A4: delivers a valid callback once, shows a page without the code, and closes', async () => {
    const callback = await listen();
    const response = await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: ISSUER })}`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('You can close this window');
    expect(html).not.toContain(CODE);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const result: AuthorizationResponse = await callback.wait();
    expect(result.code.reveal()).toBe(CODE);
    expect(result.iss).toBe(ISSUER);
    expect(await connects(portOf(callback))).toBe(false);
  });

  it('A4: a replayed callback after success gets a clear page and changes nothing', async () => {
    const callback = await listen();
    const request = (code: string): string =>
      `GET /callback?${query({ code, state: STATE, iss: ISSUER })} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    // Two requests pipelined on one connection: the second arrives after the first decided.
    const answer = await raw(portOf(callback), request(CODE) + request('replayed-code-999999'));
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('HTTP/1.1 409');
    expect(answer).toContain('nothing changed');
    expect(answer).not.toContain('replayed-code');
    expect((await callback.wait()).code.reveal()).toBe(CODE);
    expect(callback.submitUrl(`${callback.redirectUri}?${query({ code: 'third', state: STATE, iss: ISSUER })}`)).toEqual({
      accepted: false,
      message: 'this login has already finished; nothing changed',
    });
    expect((await callback.wait()).code.reveal()).toBe(CODE);
  });

  it('A4: other paths and methods get 404 and do not decide the login', async () => {
    const callback = await listen();
    expect((await fetch(`http://127.0.0.1:${portOf(callback)}/favicon.ico`)).status).toBe(404);
    expect((await fetch(callback.redirectUri, { method: 'POST' })).status).toBe(404);
    expect(callback.settled).toBe(false);
  });

  it('A4: times out and then stops listening', async () => {
    const callback = await listen({ timeoutMs: 50 });
    expect(await reason(callback.wait())).toBe('timeout');
    expect(await connects(portOf(callback))).toBe(false);
  });

  it('A4: a callback that arrives before the URL was handed out is refused, and the login keeps waiting', async () => {
    const callback = await LoopbackCallback.listen();
    open.push(callback);
    const response = await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE })}`);
    expect(response.status).toBe(400);
    expect(callback.settled).toBe(false);
  });

  it('A2 / issue 12 item 10: a wrong or missing state gets an error page and the login keeps waiting for the right one', async () => {
    const callback = await listen();
    const forged = await fetch(`${callback.redirectUri}?${query({ code: 'forged-code-000', state: 'forged', iss: ISSUER })}`);
    expect(forged.status).toBe(400);
    const html = await forged.text();
    expect(html).toContain('state does not match');
    expect(html).toContain('still waiting');
    expect((await fetch(`${callback.redirectUri}?${query({ code: 'forged-code-000' })}`)).status).toBe(400);
    expect(callback.settled).toBe(false);
    // The listener is still there, and the real callback completes the login.
    const real = await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: ISSUER })}`);
    expect(real.status).toBe(200);
    expect((await callback.wait()).code.reveal()).toBe(CODE);
    expect(() => checkAuthorizationResponse(new URLSearchParams({ code: CODE }), { state: STATE, issuer: ISSUER, issRequired: false })).toThrow(/no state/);
  });

  it('A3 / issue 12 item 10: a missing or wrong iss is refused and the login keeps waiting', async () => {
    const callback = await listen({}, true);
    expect((await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE })}`)).status).toBe(400);
    expect((await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: 'https://evil.example' })}`)).status).toBe(400);
    expect(callback.settled).toBe(false);
    await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: ISSUER })}`);
    expect((await callback.wait()).iss).toBe(ISSUER);
  });

  it('A3: refuses an iss that is not exactly the issuer, even when not advertised', async () => {
    const expected = { state: STATE, issuer: ISSUER, issRequired: false };
    for (const iss of ['https://evil.example', 'https://as.example/', 'HTTPS://as.example']) {
      expect(() => checkAuthorizationResponse(new URLSearchParams({ code: CODE, state: STATE, iss }), expected)).toThrow(/mix-up/);
    }
    expect(checkAuthorizationResponse(new URLSearchParams({ code: CODE, state: STATE }), expected).iss).toBeUndefined();
  });

  it('turns an error= callback into a failed login with the sanitized error', async () => {
    const callback = await listen();
    const response = await fetch(
      `${callback.redirectUri}?${query({ error: 'access_denied', error_description: 'user said <no>\n', state: STATE, iss: ISSUER })}`,
    );
    const html = await response.text();
    expect(html).toContain('access_denied');
    expect(html).not.toContain('<no>');
    let error: AuthdError | undefined;
    try {
      await callback.wait();
    } catch (err) {
      error = err as AuthdError;
    }
    expect(error?.data).toEqual({ reason: 'authorization_error', error: 'access_denied' });
    expect(error?.message).toBe('the authorization server refused: access_denied (user said <no>?)');
  });

  it('an error= callback with a wrong state is reported as a state mismatch', () => {
    const params = new URLSearchParams({ error: 'access_denied', state: 'other', iss: ISSUER });
    expect(() => checkAuthorizationResponse(params, { state: STATE, issuer: ISSUER, issRequired: true })).toThrow(/state does not match/);
  });

  it('accepts a pasted redirect URL through the same checks', async () => {
    const callback = await listen();
    expect(callback.submitUrl('not a url')).toMatchObject({ accepted: false });
    expect(callback.submitUrl(`http://127.0.0.1:1/callback?${query({ code: CODE, state: STATE, iss: ISSUER })}`)).toMatchObject({ accepted: false });
    expect(callback.settled).toBe(false);
    expect(callback.submitUrl(` ${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: ISSUER })} `)).toEqual({ accepted: true });
    expect((await callback.wait()).code.reveal()).toBe(CODE);
  });

  it('issue 12 item 10: a pasted URL with a wrong state or iss is refused and the login keeps waiting', async () => {
    const callback = await listen();
    expect(callback.submitUrl(`${callback.redirectUri}?${query({ code: CODE, state: 'x', iss: ISSUER })}`)).toMatchObject({
      accepted: false,
      message: expect.stringMatching(/state does not match/),
    });
    expect(callback.submitUrl(`${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: 'https://evil.example' })}`)).toMatchObject({ accepted: false });
    expect(callback.settled).toBe(false);
    expect(callback.submitUrl(`${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: ISSUER })}`)).toEqual({ accepted: true });
    expect((await callback.wait()).code.reveal()).toBe(CODE);
  });

  it('is cancelled by its signal', async () => {
    const controller = new AbortController();
    const callback = await listen({ signal: controller.signal });
    controller.abort();
    expect(await reason(callback.wait())).toBe('aborted');
    expect(await connects(portOf(callback))).toBe(false);
  });
});

const AUTHORIZE_URL = `${ISSUER}/authorize?state=${STATE}&code_challenge=challenge-xyz`;

describe('loopback start URL (issue 13 item 1: no state or challenge in any argv)', () => {
  it('redirects once to the authorize URL; the start URL itself carries no secret', async () => {
    const callback = await listen();
    callback.expect({ state: STATE, issuer: ISSUER, issRequired: true, authorizationUrl: AUTHORIZE_URL });
    const start = new URL(callback.startUrl);
    expect(start.origin).toBe(new URL(callback.redirectUri).origin);
    expect(start.pathname).toMatch(/^\/start\/[A-Za-z0-9_-]{22,}$/);
    expect(start.search).toBe('');
    expect(callback.startUrl).not.toContain(STATE);
    const first = await fetch(callback.startUrl, { redirect: 'manual' });
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe(AUTHORIZE_URL);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    // Single use: a second visit does not learn the authorize URL.
    const second = await fetch(callback.startUrl, { redirect: 'manual' });
    expect(second.status).toBe(410);
    expect(await second.text()).not.toContain(STATE);
    // A guessed nonce gets nothing and changes nothing.
    expect((await fetch(`http://127.0.0.1:${portOf(callback)}/start/guess`, { redirect: 'manual' })).status).toBe(404);
    expect(callback.settled).toBe(false);
  });

  it('has nothing to redirect to before the authorize URL exists', async () => {
    const callback = await LoopbackCallback.listen();
    open.push(callback);
    expect((await fetch(callback.startUrl, { redirect: 'manual' })).status).toBe(404);
  });

  it('a second visit cancels the login where other users cannot be told apart (state only)', async () => {
    const callback = await LoopbackCallback.listen({ peerCheck: { mode: 'state_only' } });
    open.push(callback);
    callback.expect({ state: STATE, issuer: ISSUER, issRequired: true, authorizationUrl: AUTHORIZE_URL });
    expect((await fetch(callback.startUrl, { redirect: 'manual' })).status).toBe(302);
    expect((await fetch(callback.startUrl, { redirect: 'manual' })).status).toBe(410);
    expect(await reason(callback.wait())).toBe('start_reused');
  });
});

describe('loopback listener: only the own user (issue 13 items 1-2)', () => {
  const OTHER_UID = 4242;
  const ownUid = process.getuid?.() ?? 1000;

  function asOtherUser(): { mode: 'proc_net_tcp'; ownUid: number; ownerOf: () => Promise<{ known: true; uid: number }> } {
    return { mode: 'proc_net_tcp', ownUid: ownUid === OTHER_UID ? OTHER_UID + 1 : ownUid, ownerOf: async () => ({ known: true, uid: OTHER_UID }) };
  }

  it('a connection owned by another uid is closed without an answer and decides nothing', async () => {
    const events: { reason: string; uid?: number }[] = [];
    const callback = await LoopbackCallback.listen({ peerCheck: asOtherUser(), onPeerRefused: (e) => events.push(e) });
    open.push(callback);
    callback.expect({ state: STATE, issuer: ISSUER, issRequired: true, authorizationUrl: AUTHORIZE_URL });
    const forged = `GET /callback?${query({ state: 'x' })} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    expect(await raw(portOf(callback), forged)).toBe('');
    const start = `GET ${new URL(callback.startUrl).pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    expect(await raw(portOf(callback), start)).toBe('');
    expect(callback.settled).toBe(false);
    expect(events[0]).toMatchObject({ uid: OTHER_UID });
  });

  it('fails closed when the owner cannot be determined', async () => {
    const callback = await LoopbackCallback.listen({
      peerCheck: { mode: 'proc_net_tcp', ownUid, ownerOf: async () => ({ known: false, reason: 'cannot read /proc/net/tcp (EACCES)' }) },
    });
    open.push(callback);
    callback.expect({ state: STATE, issuer: ISSUER, issRequired: true, authorizationUrl: AUTHORIZE_URL });
    expect(await raw(portOf(callback), `GET ${new URL(callback.startUrl).pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)).toBe('');
  });

  it('the real check (default on Linux) lets this process in', async () => {
    const callback = await listen();
    expect(callback.peerCheckMode).toBe(process.platform === 'linux' ? 'proc_net_tcp' : 'state_only');
    expect((await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE, iss: ISSUER })}`)).status).toBe(200);
  });
});

describe('loopback listener: caps and slow connections (issue 13 item 3)', () => {
  function openIdle(port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
      socket.once('error', reject);
    });
  }
  const closed = (socket: net.Socket): Promise<void> => new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

  it('closes a connection that never finishes its headers', async () => {
    const callback = await LoopbackCallback.listen({ limits: { headersTimeoutMs: 300 } });
    open.push(callback);
    const socket = await openIdle(portOf(callback));
    socket.on('error', () => undefined);
    socket.write('GET /callback HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const started = Date.now();
    await closed(socket);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(callback.settled).toBe(false);
  });

  it('caps open connections: beyond the cap a new one is closed at once', async () => {
    const callback = await LoopbackCallback.listen({ limits: { maxConnections: 2 } });
    open.push(callback);
    callback.expect({ state: STATE, issuer: ISSUER, issRequired: true });
    const held = [await openIdle(portOf(callback)), await openIdle(portOf(callback))];
    const extra = await openIdle(portOf(callback));
    extra.on('error', () => undefined);
    await closed(extra);
    for (const socket of held) socket.destroy();
    // Slots free again: a real callback still gets through.
    await Promise.all(held.map(closed));
    // (The server sees the two closes a moment later; until then a new connection may still be dropped.)
    const request = `GET /callback?${query({ code: CODE, state: STATE, iss: ISSUER })} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    let answer = '';
    for (let i = 0; i < 100 && !answer.startsWith('HTTP/1.1 200'); i++) answer = await raw(portOf(callback), request).catch(() => '');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect((await callback.wait()).code.reveal()).toBe(CODE);
  });
});
