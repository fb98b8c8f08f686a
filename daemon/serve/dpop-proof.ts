/**
 * `dpop.proof`: a fresh DPoP proof (RFC 9449 §4, §7) for one request to a
 * DPoP-bound credential's server, with the access token it goes with. The
 * same exact-resource rules, scope and lifetime checks (and refresh) as
 * token.get (token-service.ts); on top, the proof is only signed for a URL on
 * the credential's own server (invariant 1), and the private key never leaves.
 */
import { AuthdError } from '../../shared/errors.js';
import { isLoopbackHost } from '../../shared/loopback.js';
import type { DpopProofParams, DpopProofResult } from '../../shared/protocol/credential-types.js';
import { parseDpopKey, signResourceProof } from '../oauth/dpop.js';
import type { CredentialRecord } from '../store/token-store.js';
import { credentialToServe, servedTokenType, type TokenServiceDeps } from './token-service.js';

export async function dpopProof(params: DpopProofParams, deps: TokenServiceDeps): Promise<DpopProofResult> {
  try {
    const result = await signedProof(params, deps);
    deps.outcome?.served();
    return result;
  } catch (err) {
    deps.outcome?.failed(err);
    throw err;
  }
}

async function signedProof(params: DpopProofParams, deps: TokenServiceDeps): Promise<DpopProofResult> {
  const { htm, htu, nonce, ...ref } = params;
  const record = await credentialToServe(ref, deps);
  if (record.dpopKey === null || servedTokenType(record) !== 'DPoP') {
    throw new AuthdError('invalid_request', `the credential for ${record.resource} is a Bearer credential: use token.get, not dpop.proof`, {
      data: { resource: record.resource, token_type: 'Bearer' },
    });
  }
  assertOwnServer(record, htu);
  const proof = signResourceProof(parseDpopKey(record.dpopKey), {
    htm,
    htu,
    accessToken: record.accessToken,
    ...(nonce === undefined ? {} : { nonce }),
    now: Math.floor(deps.now() / 1000),
  });
  return {
    access_token: record.accessToken.reveal(),
    token_type: 'DPoP',
    proof: proof.reveal(),
    expires_at: record.expiresAt === null ? null : Math.floor(record.expiresAt / 1000),
    resource: record.resource,
    scopes: record.scopes,
  };
}

/**
 * Invariant 1: a proof (with the token it travels with) is only for the
 * credential's server: `htu` must be on the origin of its resource or of an
 * MCP server URL it was obtained for, https (http only for a loopback host,
 * as the credential itself was). Never a prefix or look-alike host.
 */
export function assertOwnServer(record: CredentialRecord, htu: string): void {
  let url: URL;
  try {
    url = new URL(htu);
  } catch {
    throw new AuthdError('invalid_request', '"htu" is not a URL');
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  const origins = new Set([record.resource, ...record.serverUrls].flatMap((u) => originOf(u)));
  if (!secure || !origins.has(url.origin)) {
    throw new AuthdError('invalid_request', `a DPoP proof for ${record.resource} is only made for its own server (${[...origins].join(', ')}), not for ${url.origin}`, {
      data: { resource: record.resource },
    });
  }
}

function originOf(url: string): string[] {
  try {
    return [new URL(url).origin];
  } catch {
    return [];
  }
}
