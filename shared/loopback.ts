/**
 * The one rule for loopback hosts: the only hosts plain HTTP may reach, and
 * only when the user opted in (checklist A5, invariant 6). The daemon's URL
 * checks (shared/resource-uri.ts assertSecureUrl, login-flow's revocation)
 * and `mcpauthd doctor` (client/metadata-probe.ts) ask this one function, so
 * doctor never flags an issuer the daemon accepted, nor the other way round.
 *
 * A host counts only when the machine reaches itself without asking DNS:
 * an IPv4 literal in 127.0.0.0/8, the IPv6 literal ::1, or exactly
 * `localhost` (resolved from /etc/hosts). Not `*.localhost` and not
 * `localhost.`: RFC 6761 asks resolvers to keep those local, but Node's
 * lookup sends them to DNS (here: ENOTFOUND), whose answer may be any
 * address, and plain HTTP to a stranger leaks tokens.
 */

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** True for 127.0.0.0/8, ::1 (bracketed or not) and `localhost`; any letter case. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  const octets = IPV4.exec(host);
  return octets !== null && octets[1] === '127' && octets.slice(2).every((o) => Number(o) <= 255);
}
