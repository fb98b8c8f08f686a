/**
 * The one reading of a `WWW-Authenticate` header (RFC 9110 §11.6.1), for the
 * daemon's discovery (checklist D1) and the client adapters' renew and
 * step-up (RFC 6750 §3, MCP `resource_metadata` from RFC 9728 §5.1).
 *
 * A header is a server's words, maybe a hostile server's: the parse never
 * throws, reads at most MAX_CHALLENGE_HEADER_LENGTH characters, and keeps
 * going past what it cannot read instead of dropping the rest. It is lenient
 * where servers are sloppy in the wild: a parameter separated from the one
 * before by a space instead of a comma still counts, because losing `scope`
 * or `resource_metadata` to a missing comma sends a login to the wrong place.
 * A quoted string cut off by the end of the header is dropped, never kept in
 * part: half a URL is worse than none.
 */

/** Longest WWW-Authenticate value parsed; real ones are a few hundred bytes. */
export const MAX_CHALLENGE_HEADER_LENGTH = 8 * 1024;

export interface AuthChallenge {
  /** Lowercased auth-scheme. */
  scheme: string;
  /** Parameters by lowercased name; the first occurrence wins. No prototype, so `__proto__` is just a name. */
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), when the challenge has one instead of parameters. */
  token68?: string;
}

export interface BearerChallenge {
  /** `invalid_token`, `insufficient_scope`, … (RFC 6750 §3.1); absent when empty. */
  error?: string;
  errorDescription?: string;
  /** The `scope` parameter split on spaces (checklist S1); absent when it names none. */
  scope?: string[];
  /** Where the server's protected resource metadata lives (RFC 9728 §5.1). */
  resourceMetadata?: string;
}

// RFC 9110 §5.6.2 tchar, and §11.2 token68; both sticky, read at a position.
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*/y;

function readToken(input: string, pos: number): string {
  TOKEN.lastIndex = pos;
  return TOKEN.exec(input)?.[0] ?? '';
}

function skipOws(input: string, pos: number): number {
  let i = pos;
  while (input[i] === ' ' || input[i] === '\t') i += 1;
  return i;
}

/** A token68 at `pos` that stands alone (then a comma or the end), or undefined. */
function readToken68(input: string, pos: number): string | undefined {
  TOKEN68.lastIndex = pos;
  const match = TOKEN68.exec(input)?.[0];
  if (match === undefined) return undefined;
  // `realm="x"` starts like a token68 too (`realm=`); only a lone one is.
  const after = skipOws(input, pos + match.length);
  return after >= input.length || input[after] === ',' ? match : undefined;
}

/** A quoted-string starting at the quote at `pos`: its value and where it ends, or undefined when unterminated. */
function readQuoted(input: string, pos: number): { value: string; end: number } | undefined {
  let value = '';
  let i = pos + 1;
  while (i < input.length) {
    const ch = input[i];
    if (ch === '"') return { value, end: i + 1 };
    if (ch === '\\') {
      if (i + 1 >= input.length) return undefined;
      value += input[i + 1];
      i += 2;
      continue;
    }
    value += ch;
    i += 1;
  }
  return undefined;
}

/** Every challenge of a WWW-Authenticate value, in order. Never throws. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const input = header.slice(0, MAX_CHALLENGE_HEADER_LENGTH);
  const challenges: AuthChallenge[] = [];
  let current: AuthChallenge | undefined;
  let pos = 0;
  while (pos < input.length) {
    const ch = input[pos];
    if (ch === ' ' || ch === '\t' || ch === ',') {
      pos += 1;
      continue;
    }
    const name = readToken(input, pos);
    if (name === '') {
      pos += 1; // a stray character: skip it rather than lose what follows
      continue;
    }
    const afterName = skipOws(input, pos + name.length);
    if (input[afterName] !== '=') {
      current = { scheme: name.toLowerCase(), params: Object.create(null) as Record<string, string> };
      challenges.push(current);
      pos = pos + name.length;
      if (afterName > pos) {
        const token68 = readToken68(input, afterName);
        if (token68 !== undefined) {
          current.token68 = token68;
          pos = afterName + token68.length;
        }
      }
      continue;
    }
    const valueStart = skipOws(input, afterName + 1);
    let value: string;
    if (input[valueStart] === '"') {
      const quoted = readQuoted(input, valueStart);
      if (quoted === undefined) break; // cut off: keep nothing of it
      value = quoted.value;
      pos = quoted.end;
    } else {
      value = readToken(input, valueStart);
      pos = valueStart + value.length;
    }
    // A parameter before any scheme belongs to nothing; RFC 9110: a name occurs once, the first wins.
    const key = name.toLowerCase();
    if (current !== undefined && !Object.hasOwn(current.params, key)) current.params[key] = value;
  }
  return challenges;
}

/** The first Bearer challenge of a WWW-Authenticate value, or undefined when there is none. */
export function parseBearerChallenge(header: string | null | undefined): BearerChallenge | undefined {
  if (typeof header !== 'string') return undefined;
  const bearer = parseWwwAuthenticate(header).find((c) => c.scheme === 'bearer');
  if (bearer === undefined) return undefined;
  const { error, error_description: description, scope, resource_metadata: metadata } = bearer.params;
  const out: BearerChallenge = {};
  if (error !== undefined && error !== '') out.error = error;
  if (description !== undefined && description !== '') out.errorDescription = description;
  if (scope !== undefined) {
    const scopes = scope.split(' ').filter((s) => s !== '');
    if (scopes.length > 0) out.scope = scopes;
  }
  if (metadata !== undefined && metadata !== '') out.resourceMetadata = metadata;
  return out;
}
