/**
 * DPoP (RFC 9449) keys and proofs: the daemon's half of sender-constrained
 * tokens. A credential's key pair is made here when its authorization server
 * advertises `dpop_signing_alg_values_supported`; its private JWK lives only in
 * a Secret (the store's `dpop_key` column) and never crosses the socket. Proofs
 * for the token endpoint are made by openid-client (oauth-client.ts hands it
 * the key from dpopKeyPair()); proofs for a resource request (`dpop.proof`)
 * are signed here, because openid-client has no API for a proof alone.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, webcrypto, constants, type KeyObject, type JsonWebKey } from 'node:crypto';
import { AuthdError } from '../../shared/errors.js';
import { Secret } from '../store/secret.js';

/** Algorithms the daemon can sign with, in the order it prefers them (RFC 9449 §5.1 lets the server list several). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'RS256'] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** The algorithm to bind a new credential with: ES256 unless the server lists only others; undefined when none of ours. */
export function chooseDpopAlgorithm(advertised: unknown): DpopAlgorithm | undefined {
  if (!Array.isArray(advertised)) return undefined;
  return DPOP_ALGORITHMS.find((alg) => advertised.includes(alg));
}

/** Whether authorization server metadata asks for DPoP (a non-empty `dpop_signing_alg_values_supported`). */
export function advertisesDpop(metadata: Record<string, unknown>): boolean {
  const algs = metadata['dpop_signing_alg_values_supported'];
  return Array.isArray(algs) && algs.length > 0;
}

/** A fresh key pair for `alg`: the private JWK (with `alg`) as JSON, inside a Secret. */
export function generateDpopKey(alg: DpopAlgorithm): Secret {
  const pair = keyPairFor(alg);
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return new Secret(JSON.stringify({ ...jwk, alg }));
}

function keyPairFor(alg: DpopAlgorithm): { privateKey: KeyObject } {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ES512':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'PS256':
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

/** A stored key, parsed: the signing key, its algorithm and its public JWK. */
export interface DpopKey {
  alg: DpopAlgorithm;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
}

/** Parses a stored private JWK; a broken one is a clear error naming the fix, never its contents. */
export function parseDpopKey(stored: Secret): DpopKey {
  let jwk: JsonWebKey & { alg?: unknown };
  try {
    jwk = JSON.parse(stored.reveal()) as JsonWebKey & { alg?: unknown };
  } catch {
    throw brokenKey('it is not JSON');
  }
  const alg = jwk.alg;
  if (typeof alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(alg)) throw brokenKey('it names no supported "alg"');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  } catch {
    throw brokenKey('it is not a private JWK');
  }
  return { alg: alg as DpopAlgorithm, privateKey, publicJwk: createPublicKey(privateKey).export({ format: 'jwk' }) };
}

function brokenKey(why: string): AuthdError {
  return new AuthdError('internal', `the stored DPoP key of this credential cannot be used (${why}); log in again to make a new one`);
}

/** RFC 7638 SHA-256 thumbprint of the public key: what a bound token's `cnf.jkt` names. */
export function jwkThumbprint(publicJwk: JsonWebKey): string {
  const members: Record<string, string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };
  const names = members[publicJwk.kty ?? ''];
  if (names === undefined) throw new AuthdError('internal', `unsupported DPoP key type ${String(publicJwk.kty)}`);
  const required: Record<string, unknown> = {};
  for (const name of names) required[name] = (publicJwk as Record<string, unknown>)[name];
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

const WEBCRYPTO_ALGORITHMS: Record<DpopAlgorithm, webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams | webcrypto.Algorithm> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
  ES512: { name: 'ECDSA', namedCurve: 'P-521' },
  EdDSA: { name: 'Ed25519' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

/**
 * The key as the WebCrypto pair openid-client's getDPoPHandle() takes: the
 * private half not extractable, the public half extractable (it goes into
 * every proof's header).
 */
export async function dpopKeyPair(stored: Secret): Promise<webcrypto.CryptoKeyPair> {
  const key = parseDpopKey(stored);
  const algorithm = WEBCRYPTO_ALGORITHMS[key.alg];
  const privateJwk = key.privateKey.export({ format: 'jwk' });
  const [privateKey, publicKey] = await Promise.all([
    webcrypto.subtle.importKey('jwk', privateJwk, algorithm, false, ['sign']),
    webcrypto.subtle.importKey('jwk', key.publicJwk, algorithm, true, ['verify']),
  ]);
  return { privateKey, publicKey };
}

/** What one resource request's proof says (RFC 9449 §4.2). */
export interface ProofRequest {
  /** The HTTP method, e.g. POST. */
  htm: string;
  /** The request URL; query and fragment are dropped here. */
  htu: string;
  /** The access token the request carries (its hash becomes `ath`). */
  accessToken: Secret;
  /** The resource server's latest `DPoP-Nonce`, when it gave one. */
  nonce?: string;
  /** Seconds since the epoch. */
  now: number;
}

/** The htu of a URL: scheme, authority and path, no query or fragment (RFC 9449 §4.2). */
export function proofHtu(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** A fresh, signed DPoP proof JWT for one request, as a Secret (it is a bearer of the key's authority for a minute). */
export function signResourceProof(key: DpopKey, request: ProofRequest): Secret {
  const header = { typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk };
  const payload: Record<string, string | number> = {
    jti: randomBytes(16).toString('base64url'),
    htm: request.htm,
    htu: proofHtu(request.htu),
    iat: request.now,
    ath: createHash('sha256').update(request.accessToken.reveal(), 'ascii').digest('base64url'),
  };
  if (request.nonce !== undefined) payload['nonce'] = request.nonce;
  const input = `${b64json(header)}.${b64json(payload)}`;
  return new Secret(`${input}.${signature(key, Buffer.from(input, 'ascii')).toString('base64url')}`);
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function signature(key: DpopKey, data: Buffer): Buffer {
  switch (key.alg) {
    case 'ES256':
      return sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    case 'ES384':
      return sign('sha384', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    case 'ES512':
      return sign('sha512', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      return sign(null, data, key.privateKey);
    case 'PS256':
      return sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'RS256':
      return sign('sha256', data, key.privateKey);
  }
}

/**
 * The key a new credential is bound with: one when the authorization server
 * advertises DPoP with an algorithm we have, else null (a Bearer credential;
 * the reason is logged, it is no failure).
 */
export function newDpopKeyFor(metadata: Record<string, unknown>, log: { info: (message: string, meta?: Record<string, unknown>) => void }): Secret | null {
  if (!advertisesDpop(metadata)) return null;
  const alg = chooseDpopAlgorithm(metadata['dpop_signing_alg_values_supported']);
  if (alg === undefined) {
    log.info('the authorization server offers DPoP only with algorithms mcpauthd lacks; using Bearer tokens', {
      offered: metadata['dpop_signing_alg_values_supported'],
    });
    return null;
  }
  log.info('binding the credential with a new DPoP key', { alg });
  return generateDpopKey(alg);
}
