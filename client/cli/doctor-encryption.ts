/**
 * The `encryption` line of `mcpauthd doctor` (issue 17): are the stored
 * secrets encrypted at rest, with a key from which provider, and what that
 * provider protects against and what it does not. The daemon reports its
 * provider in `status` (`daemon.encryption`); the words come from
 * shared/key-providers.ts, as in `mcpauthd status`.
 */
import { KEY_PROVIDER_FACTS } from '../../shared/key-providers.js';
import type { DaemonInfo } from '../../shared/protocol/types.js';
import type { DoctorCheck } from './doctor-check.js';

export function encryptionCheck(info: DaemonInfo): DoctorCheck {
  const reported = info.encryption;
  if (reported === undefined) {
    return {
      id: 'encryption',
      status: 'warn',
      message: 'the daemon does not say how its database is encrypted (a version from before encryption at rest: its tokens may be stored in plaintext)',
      fix: 'restart the daemon with this mcpauthd version; it encrypts the database at its first start',
    };
  }
  const facts = KEY_PROVIDER_FACTS[reported.provider];
  const passedOver = reported.passed_over === undefined || reported.passed_over.length === 0 ? '' : ` (passed over: ${reported.passed_over.join('; ')})`;
  return {
    id: 'encryption',
    status: 'ok',
    message:
      `tokens, client secrets and keys are encrypted at rest (AES-256-GCM) with a key from ${facts.label}: ${reported.location}${passedOver}. ` +
      `Protects against ${facts.protects}. Does not protect against ${facts.exposes}`,
  };
}
