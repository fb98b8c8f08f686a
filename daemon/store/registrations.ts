/**
 * Authorization servers and client registrations: the rows a login finds or
 * creates before it has a credential. Plain functions over the prepared
 * statements; TokenStore exposes them and checkpoints the WAL after a delete.
 */
import { toRegistration, type RegistrationRow } from './credential-rows.js';
import type { AuthorizationServerRecord, ClientRegistration } from './records.js';
import type { Secret } from './secret.js';
import type { RowCodec } from './sealing.js';
import type { Statements } from './statements.js';

export function saveAuthorizationServer(stmts: Statements, issuer: string, metadata: Record<string, unknown>, now: number): void {
  stmts.upsertAs.run({ issuer, metadata: JSON.stringify(metadata), fetched_at: now });
}

export function getAuthorizationServer(stmts: Statements, issuer: string): AuthorizationServerRecord | undefined {
  const row = stmts.getAs.get(issuer) as { issuer: string; metadata: string; fetched_at: number } | undefined;
  if (row === undefined) return undefined;
  return { issuer: row.issuer, metadata: JSON.parse(row.metadata) as Record<string, unknown>, fetchedAt: row.fetched_at };
}

export function saveClientRegistration(stmts: Statements, codec: RowCodec, reg: Omit<ClientRegistration, 'createdAt'>, createdAt: number): ClientRegistration {
  stmts.upsertRegistration.run(codec.sealRow('client_registrations', {
    issuer: reg.issuer,
    client_id: reg.clientId,
    client_secret: reg.clientSecret?.reveal() ?? null,
    token_endpoint_auth_method: reg.tokenEndpointAuthMethod,
    registration_access_token: reg.registrationAccessToken?.reveal() ?? null,
    registration_client_uri: reg.registrationClientUri,
    redirect_uris: JSON.stringify(reg.redirectUris),
    kind: reg.kind,
    created_at: createdAt,
    client_key: reg.clientKey?.reveal() ?? null,
  }));
  return { ...reg, createdAt };
}

/** The newest registration for an issuer, or the one with this client id. */
export function getClientRegistration(stmts: Statements, codec: RowCodec, issuer: string, clientId?: string): ClientRegistration | undefined {
  const row = (clientId === undefined ? stmts.newestRegistration.get(issuer) : stmts.getRegistration.get(issuer, clientId)) as RegistrationRow | undefined;
  return row === undefined ? undefined : toRegistration(codec.openRow('client_registrations', row));
}

/** Stores a registration_access_token the AS rotated (RFC 7592 §2.1). */
export function updateRegistrationAccessToken(stmts: Statements, codec: RowCodec, issuer: string, clientId: string, token: Secret): void {
  const sealed = codec.sealRow('client_registrations', { issuer, client_id: clientId, registration_access_token: token.reveal() });
  stmts.updateRegistrationToken.run(sealed.registration_access_token, issuer, clientId);
}

/** True when some credential refreshes with this client. */
export function isClientInUse(stmts: Statements, issuer: string, clientId: string): boolean {
  return stmts.clientInUse.get(issuer, clientId) !== undefined;
}

export function deleteClientRegistration(stmts: Statements, issuer: string, clientId: string): boolean {
  return stmts.deleteRegistration.run(issuer, clientId).changes > 0;
}
