/**
 * Scope lists (RFC 6749 §3.3: space-separated, order carries no meaning, an
 * empty string is no scope). One rule for the daemon's scope selection
 * (daemon/scope-selection.ts) and the client's step-up (client/daemon-credential.ts).
 */

/** Scopes in first-seen order, without duplicates or empty strings. */
export function unionScopes(...lists: (readonly string[] | undefined)[]): string[] {
  const seen = new Set<string>();
  for (const list of lists) {
    for (const scope of list ?? []) if (scope !== '') seen.add(scope);
  }
  return [...seen];
}
