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
 *
 * This file runs the probe and the order; each kind of document has its own
 * file: protected-resource-metadata.ts, authorization-server-metadata.ts,
 * legacy-discovery.ts (metadata-checks.ts holds what they share).
 */
import { assertSecureUrl } from '../../shared/resource-uri.js';
import { parseBearerChallenge, type BearerChallenge } from '../../shared/www-authenticate.js';
import { describeUrl, httpRequest } from './http-fetch.js';
import type { HttpPolicy } from './http-fetch.js';
import { discoveryError } from './metadata-checks.js';
import { chooseAuthorizationServer, discoverProtectedResource, type ProtectedResourceMetadata } from './protected-resource-metadata.js';
import { loadAuthorizationServer, type AuthorizationServerMetadata, type MetadataCache } from './authorization-server-metadata.js';
import { legacyAuthorizationServer } from './legacy-discovery.js';

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
