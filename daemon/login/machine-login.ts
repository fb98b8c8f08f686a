/**
 * A login without a person (issue 16 item 4): after discovery, the
 * client_credentials grant (MCP extension io.modelcontextprotocol/oauth-client-credentials)
 * or the RFC 7523 jwt-bearer grant (workload identity), with the server's
 * resource on the token request and the same response checks as a browser
 * login (R5). No refresh token is kept: the scheduler runs the grant again
 * (daemon/refresh/regrant.ts) on the same schedule a refresh would have.
 *
 * private_key_jwt: the key is the user's (`client_key`), else the one stored
 * for this client, else a new one. It is stored before the token request and
 * announced (progress `client_key`), because a new key must be registered at
 * the authorization server before any token request can succeed.
 */
import { AuthdError, isAuthdError } from '../../shared/errors.js';
import type { LoginParams, LoginProgress, LoginResult, MachineClientAuth, MachineGrant } from '../../shared/protocol/login-types.js';
import type { AuthorizationServerMetadata } from '../oauth/authorization-server-metadata.js';
import { generateClientKey, importClientKey, storedClientKey, type ClientKey } from '../oauth/client-key.js';
import { JWT_BEARER_GRANT } from '../oauth/extension-grants.js';
import type { HttpPolicy } from '../oauth/http-fetch.js';
import { createOAuthClient } from '../oauth/oauth-client.js';
import { oauthError } from '../oauth/oauth-error.js';
import { requestMachineToken } from '../oauth/machine-grant.js';
import type { NewRegistration } from '../oauth/registration.js';
import type { Logger } from '../os/logger.js';
import { Secret } from '../store/secret.js';
import type { LoginOptions } from '../store/records.js';
import type { TokenStore } from '../store/token-store.js';
import { storeLogin } from './login-result.js';

export interface MachineLoginInput {
  params: LoginParams & { grant: MachineGrant };
  store: TokenStore;
  log: Logger;
  http: HttpPolicy;
  now: () => number;
  loginId: string;
  onProgress: (progress: LoginProgress) => void;
  metadata: AuthorizationServerMetadata;
  resource: string;
  scopes: string[];
}

const GRANT_TYPE: Record<MachineGrant, string> = { client_credentials: 'client_credentials', jwt_bearer: JWT_BEARER_GRANT };

/** The client authentication a machine login uses when the request names none. */
export function defaultClientAuth(params: Pick<LoginParams, 'grant' | 'client_secret'>): MachineClientAuth {
  if (params.client_secret !== undefined) return 'client_secret_basic';
  return params.grant === 'jwt_bearer' ? 'none' : 'private_key_jwt';
}

/** Refuses a combination that cannot work, naming the fix, before anything is sent or stored. */
function checkRequest(input: MachineLoginInput, auth: MachineClientAuth): void {
  const { params, metadata } = input;
  const flag = params.grant === 'client_credentials' ? '--client-credentials' : '--jwt-bearer';
  if (params.client_id === undefined) throw new AuthdError('invalid_request', `${flag} needs --client-id: the client registered for this machine at ${metadata.issuer}`);
  if (params.client_metadata_url !== undefined) throw new AuthdError('invalid_request', `${flag} uses a pre-registered client, not a client metadata document`);
  if (auth === 'client_secret_basic' && params.client_secret === undefined) throw new AuthdError('invalid_request', 'client_secret_basic needs the client secret (--client-secret-file or --client-secret-stdin)');
  if (auth !== 'client_secret_basic' && params.client_secret !== undefined) throw new AuthdError('invalid_request', `a client secret was given, but the client authenticates with ${auth}`);
  if (auth !== 'private_key_jwt' && params.client_key !== undefined) throw new AuthdError('invalid_request', `a client key was given, but the client authenticates with ${auth}`);
  if (auth === 'none' && params.grant === 'client_credentials') throw new AuthdError('invalid_request', 'the client_credentials grant needs client authentication (private_key_jwt or client_secret_basic)');
  if (params.grant === 'jwt_bearer' && params.assertion_file === undefined) throw new AuthdError('invalid_request', '--jwt-bearer needs --assertion-file: the file where the platform puts this machine\'s token');
  if (params.grant !== 'jwt_bearer' && params.assertion_file !== undefined) throw new AuthdError('invalid_request', 'an assertion file is only used with --jwt-bearer');
  // RFC 8414: absent lists say nothing; a list that leaves ours out is a clear refusal.
  const grants = metadata.grant_types_supported;
  if (grants !== undefined && !grants.includes(GRANT_TYPE[params.grant])) {
    throw oauthError(`${metadata.issuer} does not offer the ${GRANT_TYPE[params.grant]} grant (grant_types_supported: ${grants.join(', ')})`, 'grant_unsupported');
  }
  const methods = metadata.token_endpoint_auth_methods_supported;
  if (methods !== undefined && !methods.includes(auth)) {
    throw oauthError(`${metadata.issuer} does not accept ${auth} client authentication (it lists ${methods.join(', ')})`, 'unsupported_auth_method');
  }
}

/** The key for private_key_jwt: given, stored, or new (and so not registered yet). */
function clientKeyFor(input: MachineLoginInput, clientId: string): { key: ClientKey; generated: boolean } {
  if (input.params.client_key !== undefined) return { key: importClientKey(input.params.client_key), generated: false };
  const stored = input.store.getClientRegistration(input.metadata.issuer, clientId);
  if (stored?.tokenEndpointAuthMethod === 'private_key_jwt' && stored.clientKey) return { key: storedClientKey(stored.clientKey), generated: false };
  return { key: generateClientKey(), generated: true };
}

export async function machineLogin(input: MachineLoginInput): Promise<LoginResult> {
  const { params, store, log, http, now, loginId, metadata, resource, scopes } = input;
  const issuer = metadata.issuer;
  const auth = params.client_auth ?? defaultClientAuth(params);
  checkRequest(input, auth);
  const clientId = params.client_id as string;

  let key: { key: ClientKey; generated: boolean } | undefined;
  const registration: NewRegistration = {
    issuer,
    clientId,
    clientSecret: params.client_secret === undefined ? null : new Secret(params.client_secret),
    tokenEndpointAuthMethod: auth,
    registrationAccessToken: null,
    registrationClientUri: null,
    redirectUris: [],
    kind: 'preregistered',
  };
  if (auth === 'private_key_jwt') {
    key = clientKeyFor(input, clientId);
    const algs = metadata.token_endpoint_auth_signing_alg_values_supported;
    if (Array.isArray(algs) && !algs.includes(key.key.alg)) {
      throw oauthError(`${issuer} does not accept ${key.key.alg} client assertions (it lists ${algs.join(', ')}); give it a key it accepts with --client-key-file`, 'client_key_invalid');
    }
    registration.clientKey = key.key.privateJwk;
    // Stored now, even if this login fails: it is the key the user registers, and the next run uses it.
    store.saveClientRegistration(registration);
    input.onProgress({ stage: 'client_key', login_id: loginId, issuer, client_id: clientId, public_jwk: key.key.publicJwk, generated: key.generated });
    log.info('client key', { issuer, client_id: clientId, kid: key.key.publicJwk.kid, generated: key.generated });
  }
  const client = createOAuthClient(metadata, registration, http);
  input.onProgress({ stage: 'registered', login_id: loginId, issuer });
  input.onProgress({ stage: 'exchanging', login_id: loginId, resource, issuer });

  let tokens;
  try {
    tokens = await requestMachineToken(client, params.grant, { resource, scopes, now, ...(params.assertion_file === undefined ? {} : { assertionFile: params.assertion_file }) });
  } catch (err) {
    if (key !== undefined && isAuthdError(err) && err.data?.['error'] === 'invalid_client') {
      throw new AuthdError('OAUTH_FAILED', `${issuer} did not accept client ${clientId}'s key (kid ${key.key.publicJwk.kid}): register the public key shown (or written with --jwks-out) for that client, then run the same login again; the key is kept`, {
        cause: err,
        data: { reason: 'invalid_client', error: 'invalid_client' },
      });
    }
    throw err;
  }

  const loginOptions: Record<string, string> = { client_auth: auth };
  if (params.assertion_file !== undefined) loginOptions['assertion_file'] = params.assertion_file;
  const stored = storeLogin(store, {
    resource,
    serverUrl: params.server_url,
    issuer,
    clientId,
    // The grant is run again instead: nothing to rotate, nothing to lose (invariant 7).
    tokens: { ...tokens, refreshToken: null },
    grantKind: params.grant,
    loginOptions: loginOptions satisfies LoginOptions,
    registration: auth === 'private_key_jwt' ? undefined : registration,
  });
  return { ...stored, ...(key === undefined ? {} : { public_jwk: key.key.publicJwk }) };
}
