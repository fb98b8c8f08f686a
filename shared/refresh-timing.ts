/**
 * How long a refresh may take, in one place for both sides: the daemon gives
 * up on a token endpoint only at its ceiling (a refresh given up on may still
 * be answered and rotated, issue 12), and a client must not give up earlier,
 * or it reports a "daemon timeout" for a refresh that then finishes anyway.
 */

/** Time allowed for one outbound request other than a refresh's token request (metadata, registration, code exchange). */
export const HTTP_TIMEOUT_MS = 10_000;

/**
 * Time allowed for a refresh_token grant's token request, body included: far
 * longer than HTTP_TIMEOUT_MS, because a refresh given up on may still be
 * answered, and a server that rotated meanwhile revokes the grant when the
 * old refresh token comes again. Only a server silent this long counts as
 * "outcome unknown".
 */
export const REFRESH_TIMEOUT_MS = 120_000;

/** The longest one refresh takes in the daemon: the issuer's metadata when stale, then the token request. */
export const DAEMON_REFRESH_LONGEST_MS = HTTP_TIMEOUT_MS + REFRESH_TIMEOUT_MS;

/**
 * How long a client waits for a request that may wait on a refresh
 * (`credential.refresh`, `token.get` with `min_ttl`): the daemon's longest
 * refresh plus a margin for a busy machine.
 */
export const CLIENT_REFRESH_WAIT_MS = DAEMON_REFRESH_LONGEST_MS + 10_000;
