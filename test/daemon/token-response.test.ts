import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { checkAudience, decodeJwtPayload, MAX_EXPIRES_IN_SEC, RejectedTokenResponse, validateTokenResponse } from '../../daemon/oauth/token-response.js';
import { AuthdError } from '../../shared/errors.js';

const RESOURCE = 'https://mcp.example/mcp';
const NOW = 1_700_000_000_000;
const CONTEXT = { resource: RESOURCE, requestedScopes: ['mcp:tools'], now: NOW };

function jwt(payload: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'at+jwt' })}.${part(payload)}.c2lnbmF0dXJl`;
}

function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthdError) return err.data?.['reason'];
    throw err;
  }
  throw new Error('expected a failure');
}

describe('token response validation', () => {
  it('T3: turns expires_in into an absolute expires_at, counted from when the response arrived', () => {
    const tokens = validateTokenResponse({ access_token: 'opaque-at', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt' }, CONTEXT);
    expect(tokens.expiresAt).toBe(NOW + 3_600_000);
    expect(tokens.receivedAt).toBe(NOW);
    expect(tokens.accessToken.reveal()).toBe('opaque-at');
    expect(tokens.refreshToken?.reveal()).toBe('rt');
    expect(tokens.tokenType).toBe('Bearer');
  });

  it('T3: no expires_in means no known expiry; no refresh_token means none', () => {
    const tokens = validateTokenResponse({ access_token: 'a', token_type: 'bearer' }, CONTEXT);
    expect(tokens.expiresAt).toBeNull();
    expect(tokens.refreshToken).toBeNull();
  });

  it('T3: refuses negative, zero, huge, non-finite and string expires_in', () => {
    for (const expiresIn of [-1, 0, MAX_EXPIRES_IN_SEC + 1, Number.NaN, Number.POSITIVE_INFINITY, '3600', null]) {
      expect(reasonOf(() => validateTokenResponse({ access_token: 'a', token_type: 'Bearer', expires_in: expiresIn }, CONTEXT))).toBe('invalid_expires_in');
    }
  });

  it('refuses a response without access_token', () => {
    expect(reasonOf(() => validateTokenResponse({ token_type: 'Bearer' }, CONTEXT))).toBe('invalid_token_response');
    expect(reasonOf(() => validateTokenResponse({ access_token: '', token_type: 'Bearer' }, CONTEXT))).toBe('invalid_token_response');
    expect(reasonOf(() => validateTokenResponse([], CONTEXT))).toBe('invalid_token_response');
  });

  it('accepts token_type Bearer in any case and refuses every other type', () => {
    for (const type of ['Bearer', 'bearer', 'BEARER']) {
      expect(validateTokenResponse({ access_token: 'a', token_type: type }, CONTEXT).tokenType).toBe('Bearer');
    }
    for (const type of ['mac', 'DPoP', '', undefined, 7]) {
      expect(reasonOf(() => validateTokenResponse({ access_token: 'a', token_type: type }, CONTEXT))).toBe('unsupported_token_type');
    }
  });

  it('accepts token_type DPoP only when the request carried a DPoP proof (RFC 9449 §5)', () => {
    const dpop = { ...CONTEXT, dpop: true };
    for (const type of ['DPoP', 'dpop']) expect(validateTokenResponse({ access_token: 'a', token_type: type }, dpop).tokenType).toBe('DPoP');
    // A server may answer a proof with a Bearer token: served as Bearer.
    expect(validateTokenResponse({ access_token: 'a', token_type: 'Bearer' }, dpop).tokenType).toBe('Bearer');
    expect(reasonOf(() => validateTokenResponse({ access_token: 'a', token_type: 'mac' }, dpop))).toBe('unsupported_token_type');
    expect(reasonOf(() => validateTokenResponse({ access_token: 'a', token_type: 'DPoP' }, { ...CONTEXT, dpop: false }))).toBe('unsupported_token_type');
  });

  it('refuses a malformed refresh_token or scope', () => {
    expect(reasonOf(() => validateTokenResponse({ access_token: 'a', token_type: 'Bearer', refresh_token: 5 }, CONTEXT))).toBe('invalid_token_response');
    expect(reasonOf(() => validateTokenResponse({ access_token: 'a', token_type: 'Bearer', scope: ['x'] }, CONTEXT))).toBe('invalid_token_response');
  });

  it('takes granted scopes from the response, else from the request', () => {
    expect(validateTokenResponse({ access_token: 'a', token_type: 'Bearer', scope: 'x  y' }, CONTEXT).scopes).toEqual(['x', 'y']);
    expect(validateTokenResponse({ access_token: 'a', token_type: 'Bearer' }, CONTEXT).scopes).toEqual(['mcp:tools']);
  });

  it('R5: refuses a JWT whose aud is not the resource, naming both values', () => {
    const token = jwt({ aud: 'https://default.invalid/', scope: 'openid' });
    let error: AuthdError | undefined;
    try {
      validateTokenResponse({ access_token: token, token_type: 'Bearer', expires_in: 60 }, CONTEXT);
    } catch (err) {
      error = err as AuthdError;
    }
    expect(error?.code).toBe('OAUTH_FAILED');
    expect(error?.data?.['reason']).toBe('audience_mismatch');
    expect(error?.message).toBe(
      'authorization server ignored the resource indicator: token aud is "https://default.invalid/", expected "https://mcp.example/mcp"',
    );
    expect(error?.message).not.toContain(token);
  });

  it('R5: accepts aud as a string or an array containing the resource, by the resource key rules', () => {
    expect(() => checkAudience(jwt({ aud: RESOURCE }), {}, RESOURCE)).not.toThrow();
    expect(() => checkAudience(jwt({ aud: ['https://other.example', RESOURCE] }), {}, RESOURCE)).not.toThrow();
    expect(() => checkAudience(jwt({ aud: 'https://mcp.example/' }), {}, 'https://mcp.example')).not.toThrow();
    expect(() => checkAudience(jwt({ aud: 'https://mcp.example/mcp/' }), {}, RESOURCE)).toThrow(/ignored the resource indicator/);
  });

  it('R5: a JWT without aud is refused; an opaque token is checked against the response hints only', () => {
    expect(() => checkAudience(jwt({ sub: 'x' }), {}, RESOURCE)).toThrow(/token aud is missing/);
    expect(() => checkAudience('opaque-token', {}, RESOURCE)).not.toThrow();
    expect(() => checkAudience('opaque-token', { aud: RESOURCE }, RESOURCE)).not.toThrow();
    expect(() => checkAudience('opaque-token', { resource: 'https://other.example' }, RESOURCE)).toThrow(/token response aud/);
  });

  it('decodes a JWT payload without verifying it, and nothing else', () => {
    expect(decodeJwtPayload(jwt({ aud: 'x' }))).toEqual({ aud: 'x' });
    expect(decodeJwtPayload('a.b')).toBeUndefined();
    expect(decodeJwtPayload('a.!!!.c')).toBeUndefined();
    expect(decodeJwtPayload(`a.${Buffer.from('[1]').toString('base64url')}.c`)).toBeUndefined();
  });

  it('T2: a rejected answer carries the refresh token it issued, and shows it nowhere', () => {
    const rejectedBy = (body: Record<string, unknown>): RejectedTokenResponse => {
      try {
        validateTokenResponse(body, CONTEXT);
      } catch (err) {
        if (err instanceof RejectedTokenResponse) return err;
        throw err;
      }
      throw new Error('expected a rejection');
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ access_token: jwt({ aud: 'https://other.example/' }), token_type: 'Bearer', refresh_token: 'live-refresh' }, 'audience_mismatch'],
      [{ access_token: 'a', token_type: 'DPoP', refresh_token: 'live-refresh' }, 'unsupported_token_type'],
      [{ access_token: 'a', token_type: 'Bearer', expires_in: MAX_EXPIRES_IN_SEC * 10, refresh_token: 'live-refresh' }, 'invalid_expires_in'],
    ];
    for (const [body, reason] of cases) {
      const err = rejectedBy(body);
      expect(err).toMatchObject({ code: 'OAUTH_FAILED', data: { reason } });
      expect(err.issuedRefreshToken?.reveal()).toBe('live-refresh');
      for (const shown of [err.message, JSON.stringify(err), inspect(err), JSON.stringify(err.data)]) expect(shown).not.toContain('live-refresh');
    }
    expect(rejectedBy({ access_token: 'a', token_type: 'DPoP' }).issuedRefreshToken).toBeNull();
  });

  it('keeps tokens out of JSON and inspect output', () => {
    const tokens = validateTokenResponse({ access_token: 'live-access', token_type: 'Bearer', refresh_token: 'live-refresh' }, CONTEXT);
    const printed = JSON.stringify(tokens);
    expect(printed).not.toContain('live-access');
    expect(printed).not.toContain('live-refresh');
  });
});
