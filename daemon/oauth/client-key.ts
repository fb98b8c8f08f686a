/**
 * The client's own key for private_key_jwt (RFC 7523 §2.2): made here or
 * imported from a key the user already registered, kept as a private JWK in
 * a Secret (client_registrations.client_key), and shown only as its public
 * half. node:crypto only; the signing itself is openid-client's (oauth-client.ts).
 *
 * Supported: EC P-256 (ES256, the default and what the MCP extension's
 * conformance uses) and RSA of at least 2048 bits (RS256).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { PublicJwk } from '../../shared/protocol/login-types.js';
import { oauthError } from './oauth-error.js';
import { Secret } from '../store/secret.js';

export type ClientKeyAlg = 'ES256' | 'RS256';

export interface ClientKey {
  /** The private JWK as JSON (with kid and alg), for the store. */
  privateJwk: Secret;
  /** Its `kid` is the key's own, else the RFC 7638 thumbprint (shown, never sent). */
  publicJwk: PublicJwk;
  alg: ClientKeyAlg;
  /**
   * The `kid` sent in the assertion header: a key made here, or a JWK that
   * names one. A PEM has none, and an AS that registered it under another
   * kid (or none) would miss a guessed one; without a kid it tries its keys.
   */
  headerKid: string | undefined;
}

/** A new P-256 key pair. */
export function generateClientKey(): ClientKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return fromKeyObject(privateKey, 'thumbprint');
}

/**
 * A key the user gives (PKCS#8/SEC1/PKCS#1 PEM, or a private JWK as JSON).
 * Errors never quote the input: it is a private key.
 */
export function importClientKey(text: string): ClientKey {
  const trimmed = text.trim();
  let key: KeyObject;
  let kid: string | undefined;
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as JsonWebKey;
      if (typeof jwk['kid'] === 'string' && jwk['kid'] !== '') kid = jwk['kid'];
      key = createPrivateKey({ key: jwk, format: 'jwk' });
    } else {
      key = createPrivateKey({ key: trimmed, format: 'pem' });
    }
  } catch {
    throw oauthError('the client key is neither a PEM private key nor a private JWK', 'client_key_invalid');
  }
  return fromKeyObject(key, kid);
}

/** The stored private JWK read back (a registration's client_key). */
export function storedClientKey(privateJwk: Secret): ClientKey {
  return importClientKey(privateJwk.reveal());
}

function fromKeyObject(key: KeyObject, kid: string | 'thumbprint' | undefined): ClientKey {
  if (key.type !== 'private') throw oauthError('the client key must be a private key', 'client_key_invalid');
  const alg = algorithmOf(key);
  const jwk = key.export({ format: 'jwk' });
  const publicParts = createPublicKey(key).export({ format: 'jwk' }) as Record<string, string>;
  const headerKid = kid === 'thumbprint' ? thumbprint(publicParts) : kid;
  const publicJwk: PublicJwk = { ...publicParts, kty: publicParts['kty'] ?? '', kid: headerKid ?? thumbprint(publicParts), alg, use: 'sig' };
  const privateJwk = new Secret(JSON.stringify({ ...jwk, alg, ...(headerKid === undefined ? {} : { kid: headerKid }) }));
  return { privateJwk, publicJwk, alg, headerKid };
}

function algorithmOf(key: KeyObject): ClientKeyAlg {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return 'RS256';
  throw oauthError('the client key must be an EC P-256 key (ES256) or an RSA key of at least 2048 bits (RS256)', 'client_key_invalid');
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public members: the key id. */
function thumbprint(jwk: Record<string, string>): string {
  const members = jwk['kty'] === 'EC' ? { crv: jwk['crv'], kty: jwk['kty'], x: jwk['x'], y: jwk['y'] } : { e: jwk['e'], kty: jwk['kty'], n: jwk['n'] };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** A non-extractable WebCrypto signing key for openid-client's PrivateKeyJwt. */
export async function signingKey(key: ClientKey): Promise<webcrypto.CryptoKey> {
  const jwk = JSON.parse(key.privateJwk.reveal()) as JsonWebKey;
  const algorithm = key.alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return webcrypto.subtle.importKey('jwk', jwk as webcrypto.JsonWebKey, algorithm, false, ['sign']);
}
