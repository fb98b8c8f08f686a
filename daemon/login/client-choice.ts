/**
 * Which OAuth client a login uses (checklist C1-C3): a pre-registered one the
 * user named, a Client ID Metadata Document, a stored registration for the
 * issuer (D4: per issuer), or a new dynamic registration.
 */
import type { AuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import { preRegisteredClient } from '../oauth/client-auth.js';
import { createOAuthClient } from '../oauth/oauth-client.js';
import type { OAuthClient } from '../oauth/oauth-client.js';
import { checkRegistration, metadataDocumentClient, registerClient } from '../oauth/registration.js';
import type { NewRegistration } from '../oauth/registration.js';
import { Secret } from '../store/secret.js';
import type { RegistrationKind } from '../store/token-store.js';
import type { LoginContext } from './login-context.js';

export interface ObtainedClient {
  client: OAuthClient;
  kind: RegistrationKind;
  /** A registration to store together with the credential. */
  unsaved?: NewRegistration;
  /** Registered by this login just now (a reused one may lack a grant type this login needs). */
  fresh?: boolean;
}

export interface ClientChoice {
  /** The redirect URI a new registration names. */
  redirectUri: string;
  /** Register for the device-code grant too (device logins only). */
  deviceGrant?: boolean;
}

/** C1, C2, C3 in priority order; a stored registration for the issuer is reused (D4: per issuer). */
export async function obtainClient(ctx: LoginContext, metadata: AuthorizationServerMetadata, choice: ClientChoice): Promise<ObtainedClient> {
  const { params, store, http, log } = ctx;
  const { redirectUri } = choice;
  const issuer = metadata.issuer;
  const userClient = (kind: 'preregistered' | 'metadata_document', credentials: ReturnType<typeof preRegisteredClient>): ObtainedClient => ({
    client: createOAuthClient(metadata, credentials, http),
    kind,
    unsaved: { issuer, ...credentials, registrationAccessToken: null, registrationClientUri: null, redirectUris: [redirectUri], kind },
  });
  if (params.client_id !== undefined) {
    const secret = params.client_secret === undefined ? null : new Secret(params.client_secret);
    return userClient('preregistered', preRegisteredClient(metadata, params.client_id, secret));
  }
  // C2 is a preference, as in the MCP SDK: used where the AS supports client ID
  // metadata documents, and registration (C3) everywhere else.
  if (params.client_metadata_url !== undefined) {
    if (metadata.client_id_metadata_document_supported === true) {
      return userClient('metadata_document', metadataDocumentClient(metadata, params.client_metadata_url, http.allowInsecureLoopback));
    }
    log.info('the authorization server does not support client ID metadata documents; registering instead', { issuer });
  }

  const stored = store.getClientRegistration(issuer);
  if (stored !== undefined) {
    const check = stored.kind === 'dynamic' ? await checkRegistration(stored, http) : { status: 'unknown', rotatedAccessToken: null };
    // Stored before anything else can fail: the old token may already be dead at the AS.
    if (check.rotatedAccessToken !== null) store.updateRegistrationAccessToken(issuer, stored.clientId, check.rotatedAccessToken);
    if (check.status !== 'invalid') {
      log.debug('reusing client registration', { issuer, client_id: stored.clientId, kind: stored.kind });
      return { client: createOAuthClient(metadata, stored, http), kind: stored.kind };
    }
    // A failed read is no proof the client is gone (a 401 may be a rotated or
    // expired token): credentials that refresh with it keep it, and this login
    // registers a client of its own.
    if (store.isClientInUse(issuer, stored.clientId)) {
      log.info('stored client registration cannot be read; registering a new client for this login and keeping the old one for the credentials that use it', {
        issuer,
        client_id: stored.clientId,
      });
    } else {
      log.info('stored client registration is gone at the authorization server; registering again', { issuer, client_id: stored.clientId });
      store.deleteClientRegistration(issuer, stored.clientId);
    }
  }
  return registerNewClient(ctx, metadata, choice);
}

/** C3: a new dynamic registration, stored at once. */
export async function registerNewClient(ctx: LoginContext, metadata: AuthorizationServerMetadata, choice: ClientChoice): Promise<ObtainedClient> {
  const { store, http, log } = ctx;
  const registration = await registerClient(metadata, choice.redirectUri, http, { deviceGrant: choice.deviceGrant === true });
  // Kept even if this login fails later: the AS knows the client now, and the next login reuses it.
  store.saveClientRegistration(registration);
  log.info('registered client', { issuer: metadata.issuer, client_id: registration.clientId, auth_method: registration.tokenEndpointAuthMethod, device_grant: choice.deviceGrant === true });
  return { client: createOAuthClient(metadata, registration, http), kind: 'dynamic', fresh: true };
}

