/**
 * Renewing a credential that has no refresh token because its grant needs no
 * person: the grant is run again, with the stored client, the credential's
 * resource verbatim and the scopes it holds, and the answer passes the login
 * checks (R5). One function per grant kind in REGRANTS; a kind without one
 * cannot be renewed (the refresher says so). The policy around it (single
 * flight, conditional store, backoff) is token-refresher.ts.
 */
import { AuthdError } from '../../shared/errors.js';
import { requestMachineToken } from '../oauth/machine-grant.js';
import { renewEnterpriseCredential } from '../login/idp-session.js';
import type { GrantKind } from '../store/records.js';
import { renewalClient, type RefreshGrantDeps } from './refresh-grant.js';
import type { Regrant, RegrantInput, RefreshedTokens } from './token-refresher.js';

/** What a regrant needs: the same as a refresh (the store, the clock, the HTTP and timeout settings). */
export type RegrantDeps = RefreshGrantDeps;

export type RegrantFunction = (input: RegrantInput, deps: RegrantDeps) => Promise<RefreshedTokens>;

/** client_credentials and jwt_bearer: the same token request as their login (daemon/oauth/machine-grant.ts). */
async function machineRegrant(input: RegrantInput, deps: RegrantDeps): Promise<RefreshedTokens> {
  const { record, registration, signal } = input;
  const { client } = await renewalClient(record, registration, signal, deps);
  const assertionFile = record.loginOptions?.['assertion_file'];
  const grant = record.grantKind === 'jwt_bearer' ? 'jwt_bearer' : 'client_credentials';
  const tokens = await requestMachineToken(client, grant, {
    resource: record.resource,
    scopes: record.scopes,
    now: deps.now,
    ...(typeof assertionFile === 'string' ? { assertionFile } : {}),
  });
  return { accessToken: tokens.accessToken, tokenType: tokens.tokenType, expiresAt: tokens.expiresAt, refreshToken: null, scopes: tokens.scopes };
}

/**
 * enterprise without a refresh token from the MCP AS: a fresh ID-JAG from the
 * IdP session named in login_options, then the jwt-bearer grant again
 * (daemon/login/idp-session.ts). No session any more: needs a login, and the
 * message names `mcpauthd idp login`.
 */
async function enterpriseRegrant(input: RegrantInput, deps: RegrantDeps): Promise<RefreshedTokens> {
  const { record, registration, signal } = input;
  const idpIssuer = record.loginOptions?.['idp_issuer'];
  if (typeof idpIssuer !== 'string') {
    throw new AuthdError('OAUTH_FAILED', `no identity provider is stored for ${record.resource} any more; log in again`, { data: { error: 'invalid_client' } });
  }
  const { client: asClient, http } = await renewalClient(record, registration, signal, deps);
  const tokens = await renewEnterpriseCredential({ resource: record.resource, scopes: record.scopes, idpIssuer, asClient, store: deps.store, http, now: deps.now });
  return { accessToken: tokens.accessToken, tokenType: tokens.tokenType, expiresAt: tokens.expiresAt, refreshToken: null, scopes: tokens.scopes };
}

/** Grant kind → how to run it again. */
export const REGRANTS: Partial<Record<GrantKind, RegrantFunction>> = {
  client_credentials: machineRegrant,
  jwt_bearer: machineRegrant,
  enterprise: enterpriseRegrant,
};

/** The refresher's Regrant: dispatches on the credential's grant kind. */
export function createRegrant(deps: RegrantDeps, regrants: Partial<Record<GrantKind, RegrantFunction>> = REGRANTS): Regrant {
  return async (input) => {
    const run = regrants[input.record.grantKind];
    if (run === undefined) {
      throw new AuthdError('OAUTH_FAILED', `this mcpauthd cannot renew ${input.record.grantKind} credentials`, { data: { reason: 'grant_unsupported', error: 'unsupported_grant_type' } });
    }
    return run(input, deps);
  };
}
