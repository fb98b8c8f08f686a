/**
 * What every way of logging in (browser, device, machine, enterprise) answers
 * once its credential is stored: the same fields, from the same tokens.
 */
import type { LoginResult } from '../../shared/protocol/login-types.js';

export function loginResult(
  where: { resource: string; serverUrl: string; issuer: string },
  stored: { scopes: string[]; expiresAt: number | null; hasRefreshToken: boolean },
): LoginResult {
  return {
    resource: where.resource,
    server_url: where.serverUrl,
    issuer: where.issuer,
    scopes: stored.scopes,
    expires_at: stored.expiresAt === null ? null : Math.floor(stored.expiresAt / 1000),
    has_refresh_token: stored.hasRefreshToken,
  };
}
