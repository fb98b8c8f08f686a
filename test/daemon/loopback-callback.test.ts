import net from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { checkAuthorizationResponse, LoopbackCallback } from '../../daemon/loopback-callback.js';
import type { AuthorizationResponse } from '../../daemon/loopback-callback.js';
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

  it('A4: a callback that arrives before the URL was handed out is refused', async () => {
    const callback = await LoopbackCallback.listen();
    open.push(callback);
    await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE })}`);
    expect(await reason(callback.wait())).toBe('state_mismatch');
  });

  it('A2: refuses a callback with the wrong or no state, and shows why', async () => {
    const callback = await listen();
    const response = await fetch(`${callback.redirectUri}?${query({ code: CODE, state: 'forged', iss: ISSUER })}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('state does not match');
    expect(await reason(callback.wait())).toBe('state_mismatch');
    expect(() => checkAuthorizationResponse(new URLSearchParams({ code: CODE }), { state: STATE, issuer: ISSUER, issRequired: false })).toThrow(/no state/);
  });

  it('A3: requires iss when the AS advertises it', async () => {
    const callback = await listen({}, true);
    await fetch(`${callback.redirectUri}?${query({ code: CODE, state: STATE })}`);
    expect(await reason(callback.wait())).toBe('iss_mismatch');
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

  it('a pasted URL with a wrong state fails the login', async () => {
    const callback = await listen();
    expect(callback.submitUrl(`${callback.redirectUri}?${query({ code: CODE, state: 'x', iss: ISSUER })}`)).toEqual({ accepted: true });
    expect(await reason(callback.wait())).toBe('state_mismatch');
  });

  it('is cancelled by its signal', async () => {
    const controller = new AbortController();
    const callback = await listen({ signal: controller.signal });
    controller.abort();
    expect(await reason(callback.wait())).toBe('aborted');
    expect(await connects(portOf(callback))).toBe(false);
  });
});
