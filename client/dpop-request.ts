/**
 * The client adapters' half of DPoP (RFC 9449 §7, §9): how a request to an
 * MCP server carries a DPoP-bound token, and the resource server's nonce.
 * The daemon holds the key and signs (`dpop.proof`); this module only asks it
 * for a fresh proof per request, sets `Authorization: DPoP` and `DPoP`, and
 * remembers the latest `DPoP-Nonce` a server sent, per origin.
 */
import { parseWwwAuthenticate } from '../shared/www-authenticate.js';
import type { TokenGetResult } from '../shared/protocol/credential-types.js';
import type { McpAuthdClient } from './authd-client.js';

/** The headers one request is sent with: the Authorization value, and the DPoP proof for a bound token. */
export interface RequestCredential {
  authorization: string;
  /** Present for a DPoP-bound token: the `DPoP` header value (one request only). */
  dpop?: string;
  /** The access token the request carries (a daemon refresh may make it newer than the one asked about). */
  accessToken: string;
}

/**
 * What a request with `token` needs: `Bearer <token>`, or for a DPoP-bound
 * token a fresh proof the daemon signs for exactly this method and URL.
 */
export async function requestCredential(
  client: McpAuthdClient,
  token: TokenGetResult,
  request: { method: string; url: string; nonce?: string | undefined },
): Promise<RequestCredential> {
  if (token.token_type !== 'DPoP') return { authorization: `Bearer ${token.access_token}`, accessToken: token.access_token };
  const signed = await client.getDpopProof(
    token.resource,
    { htm: request.method.toUpperCase(), htu: request.url, ...(request.nonce === undefined ? {} : { nonce: request.nonce }) },
    { byResource: true },
  );
  return { authorization: `DPoP ${signed.access_token}`, dpop: signed.proof, accessToken: signed.access_token };
}

/** Sets (or, without a credential, removes) the Authorization and DPoP headers. */
export function withCredential(headers: RequestInit['headers'], credential: RequestCredential | undefined): Headers {
  const result = new Headers(headers);
  result.delete('dpop');
  if (credential === undefined) {
    result.delete('authorization');
    return result;
  }
  result.set('authorization', credential.authorization);
  if (credential.dpop !== undefined) result.set('dpop', credential.dpop);
  return result;
}

/**
 * The latest `DPoP-Nonce` of each origin (RFC 9449 §9: a server may change it
 * on any response). Only a few servers per adapter: a plain map.
 */
export class DpopNonces {
  readonly #byOrigin = new Map<string, string>();

  /** The nonce to put in the next proof for `url`, if its server gave one. */
  for(url: string): string | undefined {
    return this.#byOrigin.get(new URL(url).origin);
  }

  /** Keeps the response's `DPoP-Nonce`, if any; true when it brought one. */
  remember(url: string, response: Pick<Response, 'headers'>): boolean {
    const nonce = response.headers.get('dpop-nonce');
    if (nonce === null || nonce === '' || nonce.length > 1024) return false;
    this.#byOrigin.set(new URL(url).origin, nonce);
    return true;
  }
}

/**
 * RFC 9449 §9: the resource server wants a (new) nonce in the proof: a 401
 * whose DPoP challenge says `use_dpop_nonce`, with the nonce in `DPoP-Nonce`.
 */
export function isDpopNonceChallenge(response: Pick<Response, 'status' | 'headers'>): boolean {
  if (response.status !== 401 || response.headers.get('dpop-nonce') === null) return false;
  const header = response.headers.get('www-authenticate');
  if (header === null) return false;
  return parseWwwAuthenticate(header).some((c) => c.scheme === 'dpop' && c.params['error'] === 'use_dpop_nonce');
}
