/**
 * What every way of logging in (browser, device, machine, enterprise) does
 * once it has tokens: store the credential (with the client registration that
 * proved to work) in one transaction, on the same renewal schedule, and answer
 * with the same fields.
 */
import type { LoginResult } from '../../shared/protocol/login-types.js';
import type { ValidatedTokens } from '../oauth/token-response.js';
import type { NewRegistration } from '../oauth/registration.js';
import { computeRefreshAt } from '../refresh/refresh-policy.js';
import { REGRANT_KINDS, type GrantKind, type LoginOptions } from '../store/records.js';
import type { Secret } from '../store/secret.js';
import type { TokenStore } from '../store/token-store.js';

export interface NewLogin {
  resource: string;
  serverUrl: string;
  issuer: string;
  clientId: string;
  tokens: ValidatedTokens;
  grantKind: GrantKind;
  /** How to log in again the same way (never a secret). */
  loginOptions: LoginOptions | null;
  /** The DPoP key the tokens are bound to; absent: Bearer. */
  dpopKey?: Secret | null | undefined;
  /** A client registration to keep: kept only once it has proved to work, with the credential. */
  registration?: NewRegistration | undefined;
}

/** Stores the credential of a login and answers it. */
export function storeLogin(store: TokenStore, login: NewLogin): LoginResult {
  const { tokens } = login;
  // Renewed on schedule (with jitter, as after a refresh) when it has a refresh token or its grant is
  // run again (daemon/refresh/regrant.ts); otherwise there is nothing to schedule.
  const renewed = tokens.refreshToken !== null || REGRANT_KINDS.includes(login.grantKind);
  store.transaction(() => {
    if (login.registration !== undefined) store.saveClientRegistration(login.registration);
    store.saveCredential({
      resource: login.resource,
      serverUrl: login.serverUrl,
      issuer: login.issuer,
      clientId: login.clientId,
      scopes: tokens.scopes,
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresAt: tokens.expiresAt,
      refreshToken: tokens.refreshToken,
      dpopKey: login.dpopKey ?? null,
      refreshAt: renewed ? computeRefreshAt(tokens.receivedAt, tokens.expiresAt, Math.random()) : null,
      grantKind: login.grantKind,
      loginOptions: login.loginOptions,
    });
  });
  return {
    resource: login.resource,
    server_url: login.serverUrl,
    issuer: login.issuer,
    scopes: tokens.scopes,
    expires_at: tokens.expiresAt === null ? null : Math.floor(tokens.expiresAt / 1000),
    has_refresh_token: tokens.refreshToken !== null,
  };
}
