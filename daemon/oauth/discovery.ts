/**
 * From an MCP server URL to the resource identifier and the authorization
 * server to log in with (checklist D1-D7):
 *
 *   probe (401 + WWW-Authenticate, read by shared/www-authenticate.ts) → Protected Resource Metadata (RFC 9728)
 *   → check its `resource` → pick the AS → AS metadata (RFC 8414, path-aware)
 *   → check its `issuer`; or, for servers without PRM, the 2025-03-26 fallback.
 *
 * The PRM `resource` string is returned exactly as received: it is what goes
 * to the authorization server (R2). Comparisons use the lookup-key rules of
 * shared/resource-uri.ts, never a rewritten string.
 */
import { authorizationServerMetadataUrls } from '../../shared/as-metadata-urls.js';
import { AuthdError } from '../../shared/errors.js';
import type { FailureReason } from '../../shared/protocol/types.js';
import { assertSecureUrl, sameResource } from '../../shared/resource-uri.js';
import { parseBearerChallenge, type BearerChallenge } from '../../shared/www-authenticate.js';
import { describeUrl, fetchMetadataDocument, httpRequest } from './http-fetch.js';
import type { HttpPolicy } from './http-fetch.js';
import type { TokenStore } from '../store/token-store.js';

/** How long stored AS metadata is used before it is fetched again. */
export const AS_METADATA_MAX_AGE_MS = 60 * 60 * 1000;

function discoveryError(message: string, reason: FailureReason): AuthdError {
  return new AuthdError('DISCOVERY_FAILED', message, { data: { reason } });
}

export interface ProbeResult {
  status: number;
  challenge: BearerChallenge | undefined;
}

/**
 * Asks the MCP endpoint without a token, the way an MCP client starts
 * (an `initialize` POST), to get its 401 challenge. The body is never read:
 * a server that does not want authorization may answer with a stream.
 */
export async function probeMcpServer(serverUrl: string, http: HttpPolicy): Promise<ProbeResult> {
  const response = await httpRequest(
    serverUrl,
    {
      what: 'MCP server',
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcpauthd', version: '0' } },
      }),
      discardBody: true,
    },
    http,
  );
  const challenge = response.status === 401 || response.status === 403 ? parseBearerChallenge(response.headers.get('www-authenticate')) : undefined;
  return { status: response.status, challenge };
}

// ------------------------------------------------------------ Protected Resource Metadata (D2, D3)

export interface ProtectedResourceMetadata {
  /** PRM `resource`, verbatim (R2). */
  resource: string;
  authorizationServers: string[];
  scopesSupported: string[] | undefined;
  /** Where it was read. */
  url: string;
}

const PRM_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** A candidate PRM location and the resource identifier it was built from. */
export interface PrmLocation {
  url: string;
  identifier: string;
}

/**
 * D2: `/.well-known/oauth-protected-resource/<path>` first (when the URL has a
 * path), then the root. RFC 9728 §3.1 inserts the suffix between host and path.
 */
export function protectedResourceMetadataLocations(serverUrl: string): PrmLocation[] {
  const url = new URL(serverUrl);
  const path = url.pathname === '/' ? '' : url.pathname;
  const locations: PrmLocation[] = [];
  if (path !== '' || url.search !== '') {
    locations.push({ url: `${url.origin}${PRM_WELL_KNOWN}${path}${url.search}`, identifier: `${url.origin}${path}${url.search}` });
  }
  locations.push({ url: `${url.origin}${PRM_WELL_KNOWN}`, identifier: url.origin });
  return locations;
}

/** The identifier a well-known PRM URL was built from, or undefined when it is not one. */
function identifierOfPrmUrl(prmUrl: URL): string | undefined {
  if (prmUrl.pathname !== PRM_WELL_KNOWN && !prmUrl.pathname.startsWith(`${PRM_WELL_KNOWN}/`)) return undefined;
  return `${prmUrl.origin}${prmUrl.pathname.slice(PRM_WELL_KNOWN.length)}${prmUrl.search}`;
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
}

/**
 * D3: validates a PRM document against the identifiers it may name; the first
 * of `acceptable` is the one reported on a mismatch.
 */
export function validateProtectedResourceMetadata(json: Record<string, unknown>, url: string, acceptable: readonly string[]): ProtectedResourceMetadata {
  const where = `protected resource metadata at ${describeUrl(url)}`;
  const resource = json['resource'];
  if (typeof resource !== 'string' || resource === '') throw discoveryError(`${where} has no "resource"`, 'invalid_metadata');
  if (!acceptable.some((id) => sameResource(resource, id))) {
    throw discoveryError(
      `${where} names resource ${JSON.stringify(resource.slice(0, 300))}, but was looked up for ${JSON.stringify(acceptable[0])}; ` +
        'refusing to use it (RFC 9728 §3.3)',
      'resource_mismatch',
    );
  }
  const servers = stringArray(json['authorization_servers']);
  if (servers === undefined || servers.length === 0) {
    throw discoveryError(`${where} names no authorization server ("authorization_servers")`, 'no_authorization_server');
  }
  const scopes = json['scopes_supported'];
  if (scopes !== undefined && stringArray(scopes) === undefined) {
    throw discoveryError(`${where} has a "scopes_supported" that is not an array of strings`, 'invalid_metadata');
  }
  return { resource, authorizationServers: servers, scopesSupported: stringArray(scopes), url };
}

/**
 * D1-D3: PRM from the challenge's `resource_metadata` (exactly that URL), else
 * from the well-known locations. Undefined when the server publishes none.
 */
export async function discoverProtectedResource(
  serverUrl: string,
  challenge: BearerChallenge | undefined,
  http: HttpPolicy,
): Promise<ProtectedResourceMetadata | undefined> {
  const what = 'protected resource metadata';
  if (challenge?.resourceMetadata !== undefined) {
    const prmUrl = assertSecureUrl(challenge.resourceMetadata, what, http.allowInsecureLoopback);
    const doc = await fetchMetadataDocument(prmUrl.href, what, http);
    if (!doc.found) {
      throw discoveryError(`${what} at ${describeUrl(prmUrl)} (named by the server's WWW-Authenticate) answered HTTP ${doc.status}`, 'not_found');
    }
    // RFC 9728 §3.3: via the header, `resource` must be the URL that was requested;
    // a well-known URL on the same origin also vouches for the identifier it was built from.
    const acceptable = [serverUrl];
    const built = identifierOfPrmUrl(prmUrl);
    if (built !== undefined && prmUrl.origin === new URL(serverUrl).origin) acceptable.push(built);
    return validateProtectedResourceMetadata(doc.json, doc.url, acceptable);
  }
  for (const location of protectedResourceMetadataLocations(serverUrl)) {
    const doc = await fetchMetadataDocument(location.url, what, http);
    if (doc.found) return validateProtectedResourceMetadata(doc.json, doc.url, [location.identifier, serverUrl]);
  }
  return undefined;
}

/**
 * D4: the AS to use, from PRM `authorization_servers`: the one already used
 * for this resource when it is still listed, else the first usable one.
 */
export function chooseAuthorizationServer(servers: readonly string[], allowInsecureLoopback: boolean, preferredIssuer?: string): string {
  if (preferredIssuer !== undefined && servers.includes(preferredIssuer)) return preferredIssuer;
  const problems: string[] = [];
  for (const server of servers) {
    try {
      assertSecureUrl(server, 'authorization server', allowInsecureLoopback);
      return server;
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  throw discoveryError(`no usable authorization server: ${problems.join('; ')}`, 'no_authorization_server');
}

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
  authorization_response_iss_parameter_supported?: boolean;
  client_id_metadata_document_supported?: boolean;
  [field: string]: JsonValue | undefined;
}

const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint'] as const;
const REQUIRED_ENDPOINTS: ReadonlySet<string> = new Set(['authorization_endpoint', 'token_endpoint']);
const STRING_ARRAYS = ['scopes_supported', 'code_challenge_methods_supported', 'token_endpoint_auth_methods_supported'] as const;
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

/**
 * D7: a 2025-03-26 server without PRM. Its origin is the issuer; metadata
 * there if published, else the spec's default endpoints.
 */
export async function legacyAuthorizationServer(serverUrl: string, http: HttpPolicy, cache?: MetadataCache): Promise<LoadedAuthorizationServer> {
  const origin = new URL(serverUrl).origin;
  try {
    return await loadAuthorizationServer(origin, http, cache);
  } catch (err) {
    if (!(err instanceof AuthdError)) throw err;
    if (err.data?.['reason'] === 'issuer_mismatch') return sameOriginLegacyIssuer(origin, http, cache, err);
    if (err.data?.['reason'] !== 'not_found') throw err;
  }
  const metadata: AuthorizationServerMetadata = {
    issuer: origin,
    authorization_endpoint: `${origin}/authorize`,
    token_endpoint: `${origin}/token`,
    registration_endpoint: `${origin}/register`,
    // 2025-03-26 made PKCE S256 mandatory for these servers; there is no metadata to say so.
    code_challenge_methods_supported: ['S256'],
  };
  validateAuthorizationServerMetadata(metadata, origin, http.allowInsecureLoopback, origin);
  // Stored like fetched metadata, so a later refresh finds the token endpoint.
  cache?.store.saveAuthorizationServer(origin, metadata);
  return { metadata, fromCache: false };
}

/**
 * 2025-03-26 servers publish AS metadata at their own origin, and some name an
 * issuer with a path there (`https://mcp.example.com/oauth`). That spec had no
 * issuer check, so such metadata is accepted on this legacy path only, and
 * only when the issuer is on the MCP server's own origin: the same host
 * vouches for both, so nothing is trusted that the server could not already
 * claim. An issuer on any other origin is still refused (D6).
 */
async function sameOriginLegacyIssuer(origin: string, http: HttpPolicy, cache: MetadataCache | undefined, mismatch: AuthdError): Promise<LoadedAuthorizationServer> {
  const doc = await fetchMetadataDocument(`${origin}/.well-known/oauth-authorization-server`, 'authorization server metadata', http);
  const issuer = doc.found ? doc.json['issuer'] : undefined;
  let sameOrigin = false;
  try {
    sameOrigin = typeof issuer === 'string' && new URL(issuer).origin === origin;
  } catch {
    sameOrigin = false;
  }
  if (!doc.found || typeof issuer !== 'string' || !sameOrigin) throw mismatch;
  const metadata = validateAuthorizationServerMetadata(doc.json, issuer, http.allowInsecureLoopback, doc.url);
  cache?.store.saveAuthorizationServer(issuer, metadata);
  return { metadata, fromCache: false };
}

// ------------------------------------------------------------ everything together

/**
 * The resource to name when there is no PRM (R2): scheme and host lowercased,
 * default port and fragment dropped, no trailing slash on a bare origin; the
 * path is kept as given because a trailing slash there may matter.
 */
export function canonicalServerUri(serverUrl: string): string {
  const url = new URL(serverUrl);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.protocol}//${url.host}${path}${url.search}`;
}

export interface DiscoveryOptions {
  http: HttpPolicy;
  cache?: MetadataCache;
  /** The user's `--resource`: used only when the server publishes no PRM. */
  fallbackResource?: string;
  /** Issuer of an existing credential for this server, preferred when PRM still lists it (D4). */
  preferredIssuer?: string;
}

export interface Discovery {
  serverUrl: string;
  /** What goes into `resource` on every request, verbatim (R1, R2). */
  resource: string;
  resourceSource: 'metadata' | 'user' | 'server_url';
  /** A `--resource` that was not used because PRM exists. */
  ignoredResource?: string;
  prm: ProtectedResourceMetadata | undefined;
  challenge: BearerChallenge | undefined;
  issuer: string;
  authorizationServer: AuthorizationServerMetadata;
  /** AS metadata came from the store, not the network. */
  metadataFromCache: boolean;
  legacy: boolean;
}

/** D1-D7 for one MCP server URL. */
export async function discover(serverUrl: string, options: DiscoveryOptions): Promise<Discovery> {
  const { http } = options;
  assertSecureUrl(serverUrl, 'MCP server URL', http.allowInsecureLoopback);
  const probe = await probeMcpServer(serverUrl, http);
  const prm = await discoverProtectedResource(serverUrl, probe.challenge, http);

  if (prm !== undefined) {
    const issuer = chooseAuthorizationServer(prm.authorizationServers, http.allowInsecureLoopback, options.preferredIssuer);
    const loaded = await loadAuthorizationServer(issuer, http, options.cache);
    const result: Discovery = {
      serverUrl,
      resource: prm.resource,
      resourceSource: 'metadata',
      prm,
      challenge: probe.challenge,
      issuer,
      authorizationServer: loaded.metadata,
      metadataFromCache: loaded.fromCache,
      legacy: false,
    };
    if (options.fallbackResource !== undefined && options.fallbackResource !== prm.resource) result.ignoredResource = options.fallbackResource;
    return result;
  }

  if (probe.status !== 401) {
    throw discoveryError(
      `${describeUrl(serverUrl)} answered HTTP ${probe.status} without a token and publishes no protected resource metadata; nothing to log in to`,
      'no_metadata',
    );
  }
  const loaded = await legacyAuthorizationServer(serverUrl, http, options.cache);
  const resource = options.fallbackResource ?? canonicalServerUri(serverUrl);
  return {
    serverUrl,
    resource,
    resourceSource: options.fallbackResource === undefined ? 'server_url' : 'user',
    prm: undefined,
    challenge: probe.challenge,
    issuer: loaded.metadata.issuer,
    authorizationServer: loaded.metadata,
    metadataFromCache: loaded.fromCache,
    legacy: true,
  };
}
