/**
 * The token request of a login without a person, shared by the login
 * (daemon/login/machine-login.ts) and every renewal (daemon/refresh/regrant.ts):
 * client_credentials, or jwt-bearer with the assertion read from its file at
 * that moment (the platform replaces the file before the old one expires).
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { MachineGrant } from '../../shared/protocol/login-types.js';
import { clientCredentialsGrant, jwtBearerGrant } from './extension-grants.js';
import type { OAuthClient } from './oauth-client.js';
import { oauthError } from './oauth-error.js';
import { Secret } from '../store/secret.js';
import type { ValidatedTokens } from './token-response.js';

/** Workload tokens are a few KiB; a bigger file is not one. */
export const MAX_ASSERTION_BYTES = 64 * 1024;
/** Three base64url parts: a JWS compact serialization (RFC 7515 §7.1). */
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The assertion in `path`, as a Secret. Errors name the file, never its content.
 */
export function readAssertionFile(path: string): Secret {
  if (!isAbsolute(path)) throw oauthError(`the assertion file must be an absolute path (got ${path})`, 'assertion_unreadable');
  let text: string;
  try {
    if (statSync(path).size > MAX_ASSERTION_BYTES) throw new Error(`larger than ${MAX_ASSERTION_BYTES} bytes`);
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw oauthError(`cannot read the assertion file ${path}: ${why}`, 'assertion_unreadable');
  }
  if (!JWS_COMPACT.test(text)) throw oauthError(`the assertion file ${path} does not hold a JWT (header.payload.signature)`, 'assertion_unreadable');
  return new Secret(text);
}

export interface MachineGrantRequest {
  resource: string;
  scopes: readonly string[];
  /** jwt_bearer only. */
  assertionFile?: string;
  now: () => number;
}

/** One token request of the given machine grant, the resource on it, the answer checked (R5). */
export async function requestMachineToken(client: OAuthClient, grant: MachineGrant, request: MachineGrantRequest): Promise<ValidatedTokens> {
  const options = { resource: request.resource, scopes: request.scopes, now: request.now };
  if (grant === 'client_credentials') return clientCredentialsGrant(client, options);
  if (request.assertionFile === undefined) throw oauthError('a jwt_bearer login needs the assertion file', 'assertion_unreadable');
  return jwtBearerGrant(client, readAssertionFile(request.assertionFile), options);
}
