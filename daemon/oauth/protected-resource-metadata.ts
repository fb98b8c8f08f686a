/**
 * Protected Resource Metadata (RFC 9728, checklist D2-D4): where to look for
 * it, how to check it, and which of its authorization servers to use. The
 * `resource` it names is returned exactly as received (R2).
 */
import { assertSecureUrl, sameResource } from '../../shared/resource-uri.js';
import type { BearerChallenge } from '../../shared/www-authenticate.js';
import { describeUrl, fetchMetadataDocument } from './http-fetch.js';
import type { HttpPolicy } from './http-fetch.js';
import { discoveryError, stringArray } from './metadata-checks.js';

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
