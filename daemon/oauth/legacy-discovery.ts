/**
 * D7: the 2025-03-26 fallback for MCP servers that publish no Protected
 * Resource Metadata: the server's origin is the issuer.
 */
import { AuthdError } from '../../shared/errors.js';
import { fetchMetadataDocument } from './http-fetch.js';
import type { HttpPolicy } from './http-fetch.js';
import { loadAuthorizationServer, validateAuthorizationServerMetadata } from './authorization-server-metadata.js';
import type { AuthorizationServerMetadata, LoadedAuthorizationServer, MetadataCache } from './authorization-server-metadata.js';

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

