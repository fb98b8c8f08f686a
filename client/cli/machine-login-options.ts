/**
 * `mcpauthd login --client-credentials | --jwt-bearer`: the flags turned into
 * login params (the client key read from its file, never argv; the assertion
 * file made absolute, since the daemon reads it from its own directory), and
 * the public key the daemon announces, printed or written as a JWKS file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoginParams, LoginProgress, MachineClientAuth } from '../../shared/protocol/login-types.js';
import { MACHINE_CLIENT_AUTH } from '../../shared/protocol/login-types.js';
import { UsageError } from './cli-core.js';

type Values = Record<string, string | boolean | undefined>;

export function machineLoginParams(values: Values): Partial<LoginParams> {
  const cc = values['client-credentials'] === true;
  const wif = values['jwt-bearer'] === true;
  const machineOnly = ['client-auth', 'client-key-file', 'jwks-out', 'assertion-file'].filter((flag) => values[flag] !== undefined);
  if (!cc && !wif) {
    if (machineOnly.length > 0) throw new UsageError(`--${machineOnly[0]} needs --client-credentials or --jwt-bearer`);
    return {};
  }
  if (cc && wif) throw new UsageError('use either --client-credentials or --jwt-bearer, not both');
  if (values['client-id'] === undefined) throw new UsageError(`${cc ? '--client-credentials' : '--jwt-bearer'} needs --client-id`);
  if (values['client-metadata-url'] !== undefined || values['no-browser'] === true) {
    throw new UsageError(`${cc ? '--client-credentials' : '--jwt-bearer'} uses no browser and no client metadata document`);
  }
  const params: Partial<LoginParams> = { grant: cc ? 'client_credentials' : 'jwt_bearer' };
  const auth = values['client-auth'];
  if (typeof auth === 'string') {
    if (!(MACHINE_CLIENT_AUTH as readonly string[]).includes(auth)) throw new UsageError(`--client-auth must be one of ${MACHINE_CLIENT_AUTH.join(', ')}`);
    params.client_auth = auth as MachineClientAuth;
  }
  const keyFile = values['client-key-file'];
  if (typeof keyFile === 'string') {
    const key = readFileSync(keyFile, 'utf8').trim();
    if (key === '') throw new UsageError(`the client key file ${keyFile} is empty`);
    params.client_key = key;
  }
  const assertion = values['assertion-file'];
  if (wif && typeof assertion !== 'string') throw new UsageError('--jwt-bearer needs --assertion-file FILE (where the platform puts this machine\'s token)');
  if (!wif && assertion !== undefined) throw new UsageError('--assertion-file is only used with --jwt-bearer');
  if (typeof assertion === 'string') params.assertion_file = resolve(assertion);
  return params;
}

/** The public key to register: on stderr, and as a JWKS file when asked. Only ever the public half. */
export function showClientKey(progress: LoginProgress, jwksOut: string | undefined, say: (line: string) => void): void {
  if (progress.public_jwk === undefined) return;
  const jwks = `${JSON.stringify({ keys: [progress.public_jwk] }, null, 2)}\n`;
  if (jwksOut !== undefined) writeFileSync(jwksOut, jwks, { mode: 0o644 });
  if (progress.generated === true) {
    say(`a new key was made for client ${progress.client_id ?? '?'}; register its public key at ${progress.issuer ?? 'the authorization server'}${jwksOut === undefined ? '' : ` (written to ${jwksOut})`}:`);
  } else {
    say(`client ${progress.client_id ?? '?'} authenticates with key ${progress.public_jwk.kid}${jwksOut === undefined ? '' : ` (public key written to ${jwksOut})`}:`);
  }
  say(jwks);
}
