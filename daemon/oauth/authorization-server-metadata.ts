/**
 * Authorization server metadata (RFC 8414, path-aware; checklist D5-D7):
 * fetching it, checking its `issuer` and endpoints, and the store-backed cache.
 */
import { authorizationServerMetadataUrls } from '../../shared/as-metadata-urls.js';
import { AuthdError } from '../../shared/errors.js';
import { assertSecureUrl } from '../../shared/resource-uri.js';
import { describeUrl, fetchMetadataDocument } from './http-fetch.js';
import type { HttpPolicy } from './http-fetch.js';
import type { TokenStore } from '../store/token-store.js';
import { discoveryError, stringArray } from './metadata-checks.js';

/** How long stored AS metadata is used before it is fetched again. */
export const AS_METADATA_MAX_AGE_MS = 60 * 60 * 1000;

// ------------------------------------------------------------ AS metadata (D5, D6, D7)

/** A parsed JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/** RFC 8414 metadata, as received, with the fields mcpauthd relies on checked. */
export interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint?: string;
  revocation_endpoint?: string;
  scopes_supported?: string[];
  code_challenge_methods_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  token_endpoint_auth_signing_alg_values_supported?: string[];
  grant_types_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
  client_id_metadata_document_supported?: boolean;
  [field: string]: JsonValue | undefined;
}

const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint'] as const;
const REQUIRED_ENDPOINTS: ReadonlySet<string> = new Set(['authorization_endpoint', 'token_endpoint']);
const STRING_ARRAYS = [
  'scopes_supported',
  'code_challenge_methods_supported',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'grant_types_supported',
] as const;
const BOOLEANS = ['authorization_response_iss_parameter_supported', 'client_id_metadata_document_supported'] as const;

/**
 * D6 and A5: the metadata must name exactly the expected issuer, and every
 * endpoint mcpauthd uses must be https (http only to loopback, opted in).
 */
export function validateAuthorizationServerMetadata(
  json: Record<string, unknown>,
  expectedIssuer: string,
  allowInsecureLoopback: boolean,
  source: string,
): AuthorizationServerMetadata {
  const where = `authorization server metadata at ${describeUrl(source)}`;
  if (json['issuer'] !== expectedIssuer) {
    const got = typeof json['issuer'] === 'string' ? JSON.stringify(json['issuer'].slice(0, 300)) : 'no issuer';
    throw discoveryError(`${where} names ${got}, expected ${JSON.stringify(expectedIssuer)} (RFC 8414 §3.3)`, 'issuer_mismatch');
  }
  for (const field of ENDPOINTS) {
    const value = json[field];
    if (value === undefined && !REQUIRED_ENDPOINTS.has(field)) continue;
    if (typeof value !== 'string') throw discoveryError(`${where} has no valid "${field}"`, 'invalid_metadata');
    try {
      assertSecureUrl(value, field.replace('_', ' '), allowInsecureLoopback);
    } catch (err) {
      throw discoveryError(`${where}: ${(err as Error).message}`, 'insecure_endpoint');
    }
  }
  for (const field of STRING_ARRAYS) {
    if (json[field] !== undefined && stringArray(json[field]) === undefined) {
      throw discoveryError(`${where} has a "${field}" that is not an array of strings`, 'invalid_metadata');
    }
  }
  for (const field of BOOLEANS) {
    if (json[field] !== undefined && typeof json[field] !== 'boolean') {
      throw discoveryError(`${where} has a "${field}" that is not a boolean`, 'invalid_metadata');
    }
  }
  return json as AuthorizationServerMetadata;
}

export interface MetadataCache {
  store: TokenStore;
  now: () => number;
  maxAgeMs?: number;
  /** Skip the stored copy (it was just used and something failed). */
  forceRefresh?: boolean;
}

export interface LoadedAuthorizationServer {
  metadata: AuthorizationServerMetadata;
  fromCache: boolean;
}

/**
 * D5/D6 with caching: the stored metadata when younger than the max age,
 * else the first well-known location that answers with valid metadata for
 * this issuer. Fresh metadata is stored only after it passed validation.
 */
export async function loadAuthorizationServer(issuer: string, http: HttpPolicy, cache?: MetadataCache): Promise<LoadedAuthorizationServer> {
  if (cache !== undefined && cache.forceRefresh !== true) {
    const stored = cache.store.getAuthorizationServer(issuer);
    if (stored !== undefined && cache.now() - stored.fetchedAt < (cache.maxAgeMs ?? AS_METADATA_MAX_AGE_MS)) {
      // Checked again: the user may have dropped --insecure-loopback since it was stored.
      return { metadata: validateAuthorizationServerMetadata(stored.metadata, issuer, http.allowInsecureLoopback, issuer), fromCache: true };
    }
  }
  const metadata = await fetchAuthorizationServerMetadata(issuer, http);
  cache?.store.saveAuthorizationServer(issuer, metadata);
  return { metadata, fromCache: false };
}

/**
 * Tries each D5 location in order. A 4xx/5xx or an unusable document moves on
 * to the next; a network failure or timeout stops (the host is the same).
 */
export async function fetchAuthorizationServerMetadata(issuer: string, http: HttpPolicy): Promise<AuthorizationServerMetadata> {
  const what = 'authorization server metadata';
  const failures: AuthdError[] = [];
  for (const url of authorizationServerMetadataUrls(issuer)) {
    const doc = await fetchMetadataDocument(url, what, http);
    if (!doc.found) {
      failures.push(discoveryError(`${describeUrl(url)}: HTTP ${doc.status}`, 'not_found'));
      continue;
    }
    try {
      return validateAuthorizationServerMetadata(doc.json, issuer, http.allowInsecureLoopback, doc.url);
    } catch (err) {
      if (!(err instanceof AuthdError)) throw err;
      failures.push(err);
    }
  }
  // Report the most telling failure: a wrong issuer or bad document beats a 404.
  const telling = failures.find((f) => f.data?.['reason'] !== 'not_found') ?? failures[0];
  const reason = telling?.data?.reason ?? 'not_found';
  throw discoveryError(`no usable ${what} for ${issuer}: ${failures.map((f) => f.message).join('; ')}`, reason);
}

