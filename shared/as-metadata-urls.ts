/**
 * Where an authorization server's metadata lives (checklist D5), in the order
 * the MCP authorization spec gives: RFC 8414 with the well-known suffix
 * inserted before the issuer's path, then OpenID Connect Discovery both ways.
 * The daemon's discovery (daemon/oauth/authorization-server-metadata.ts) and `mcpauthd doctor`
 * (client/metadata-probe.ts) ask here, so doctor probes exactly the places a
 * refresh will use.
 */
import { AuthdError } from './errors.js';

/**
 * The metadata URLs of `issuer`, most specific first. One terminating "/" of
 * the path is removed before inserting (RFC 8414 §3.1); the rest of the path
 * is kept as written.
 * @throws AuthdError DISCOVERY_FAILED (reason invalid_metadata) for an issuer with a query or fragment (RFC 8414 §2).
 * @throws TypeError when `issuer` is not a URL.
 */
export function authorizationServerMetadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  if (url.search !== '' || url.hash !== '') {
    throw new AuthdError('DISCOVERY_FAILED', `issuer ${JSON.stringify(issuer)} must not have a query or fragment`, { data: { reason: 'invalid_metadata' } });
  }
  const path = url.pathname.replace(/\/$/, '');
  if (path === '') {
    return [`${url.origin}/.well-known/oauth-authorization-server`, `${url.origin}/.well-known/openid-configuration`];
  }
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}
