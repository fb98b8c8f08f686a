/**
 * Connections that asked for credential.updated events: the daemon publishes
 * each credential change here and every live subscriber gets it.
 */
import type { CredentialUpdated } from '../../shared/protocol/credential-types.js';

/** Connections that asked for credential.updated events. */
export class Subscribers {
  readonly #send = new Set<(event: CredentialUpdated) => void>();

  add(send: (event: CredentialUpdated) => void, closed: AbortSignal): void {
    this.#send.add(send);
    closed.addEventListener('abort', () => this.#send.delete(send), { once: true });
  }

  publish(event: CredentialUpdated): void {
    for (const send of this.#send) send(event);
  }
}
