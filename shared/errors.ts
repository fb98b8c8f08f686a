/**
 * Errors that carry a stable `code`. Callers branch on `code`, never on `message`.
 *
 * Wire codes (what the daemon may send, see `WireErrorCode` in protocol.ts) are
 * lower_snake_case because they are part of the documented protocol; local
 * codes (what only happens inside one process) are UPPER_SNAKE_CASE.
 */
import type { FailureReason, WireErrorCode } from './protocol/types.js';

export type LocalErrorCode =
  | 'DAEMON_UNAVAILABLE'
  | 'DAEMON_TIMEOUT'
  | 'INSECURE_PERMISSIONS'
  | 'INSECURE_SOCKET'
  | 'ALREADY_RUNNING'
  | 'PROTOCOL_ERROR'
  | 'STORE_UNAVAILABLE'
  // The database key cannot be had: keychain locked or missing, key file missing (daemon/store/key-provider.ts).
  | 'KEY_UNAVAILABLE'
  // A key was found but does not open this encrypted database.
  | 'KEY_MISMATCH'
  // Linux/macOS: the daemon cannot ask the kernel who connects and was not told to run without (--allow-no-peer-check).
  | 'PEER_CHECK_UNAVAILABLE'
  // A request carrying a token was redirected to another resource than the token's (client/redirect-guard.ts).
  | 'TOKEN_REDIRECT_REFUSED'
  | 'INVALID_RESOURCE'
  | 'USAGE'
  // Outbound HTTP to a metadata, registration or token endpoint failed: network, timeout, status, size, not JSON.
  | 'HTTP_FAILED'
  // Metadata was fetched but cannot be used (resource or issuer mismatch, no authorization server).
  | 'DISCOVERY_FAILED'
  // The authorization server or the authorization response said no, or answered something unusable.
  | 'OAUTH_FAILED';

export type ErrorCode = WireErrorCode | LocalErrorCode;

/** `data` of an error: facts a caller may act on; `reason` is one of the documented FailureReason values. */
export interface ErrorData {
  reason?: FailureReason;
  [field: string]: unknown;
}

export class AuthdError extends Error {
  readonly code: ErrorCode;
  /** Extra, non-secret facts a caller may act on (e.g. the scopes a step-up needs). */
  readonly data: Readonly<ErrorData> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; data?: ErrorData }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthdError';
    this.code = code;
    this.data = options?.data;
    // The cause may hold a server body with live tokens in it (oauth4webapi
    // attaches token responses as causes): keep it out of JSON and inspect output.
    if (options?.cause !== undefined) {
      Object.defineProperty(this, 'cause', { enumerable: false, value: options.cause });
    }
  }
}

export function isAuthdError(err: unknown, code?: ErrorCode): err is AuthdError {
  return err instanceof AuthdError && (code === undefined || err.code === code);
}
