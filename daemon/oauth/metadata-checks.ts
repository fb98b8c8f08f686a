/**
 * The two small checks every kind of discovery makes: the one way a discovery
 * failure becomes an AuthdError, and "is this an array of strings".
 */
import { AuthdError } from '../../shared/errors.js';
import type { FailureReason } from '../../shared/protocol/types.js';

export function discoveryError(message: string, reason: FailureReason): AuthdError {
  return new AuthdError('DISCOVERY_FAILED', message, { data: { reason } });
}

export function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
}
