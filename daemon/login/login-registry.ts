/**
 * The logins in progress, by id: each holds its callback listener (null while
 * discovery runs) so that a redirect URL the user pasted can be fed to it.
 * One registry per daemon, created in daemon.ts and passed to the login flow.
 */
import { randomUUID } from 'node:crypto';
import { AuthdError } from '../../shared/errors.js';
import type { LoopbackCallback } from '../oauth/loopback-callback.js';

/** Logins waiting for a browser at once; each holds a listening port. */
export const MAX_PENDING_LOGINS = 8;

export class LoginRegistry {
  readonly #pending = new Map<string, LoopbackCallback | null>();

  /** Reserves a slot for a new login and returns its id. @throws AuthdError busy */
  begin(): string {
    if (this.#pending.size >= MAX_PENDING_LOGINS) {
      throw new AuthdError('busy', `${MAX_PENDING_LOGINS} logins are already in progress; finish or cancel one first`);
    }
    const loginId = randomUUID();
    this.#pending.set(loginId, null);
    return loginId;
  }

  attach(loginId: string, callback: LoopbackCallback): void {
    this.#pending.set(loginId, callback);
  }

  /** Closes the login's listener (if any) and frees its slot. */
  end(loginId: string): void {
    this.#pending.get(loginId)?.close();
    this.#pending.delete(loginId);
  }

  /**
   * Feeds the redirect URL the user pasted (browser on another machine) to a
   * waiting login. The login's own response says how it ended.
   * @throws AuthdError not_found (no such login waiting) or invalid_request (not its
   *   redirect URL, or not its answer: wrong state or iss; the login keeps waiting).
   */
  submitCallbackUrl(loginId: string, url: string): { accepted: boolean } {
    const callback = this.#pending.get(loginId);
    if (callback === undefined || callback === null) {
      throw new AuthdError('not_found', `no login ${JSON.stringify(loginId.slice(0, 64))} is waiting for a callback`);
    }
    const result = callback.submitUrl(url);
    if (result.accepted) return { accepted: true };
    if (callback.settled) return { accepted: false };
    throw new AuthdError('invalid_request', result.message);
  }

  /** How many logins are waiting (for status output and tests). */
  get count(): number {
    return this.#pending.size;
  }
}
