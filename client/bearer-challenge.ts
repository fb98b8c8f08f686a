/**
 * Reads the Bearer challenge of a `WWW-Authenticate` header (RFC 6750 §3,
 * RFC 7235 §4.1): `error`, `scope` and the MCP `resource_metadata` (RFC 9728
 * §5.1). Pure, so the adapters and their tests share one reading of a header.
 *
 * A header may carry several challenges (`DPoP …, Bearer …`); only the first
 * Bearer one counts. Malformed input never throws: what could be read is kept,
 * the rest is dropped, because a server's bad header must not crash a client.
 */

export interface BearerChallenge {
  /** `invalid_token`, `insufficient_scope`, … (RFC 6750 §3.1). */
  error?: string;
  /** The scopes the server wants, split on spaces; absent when the challenge names none. */
  scope?: string[];
  /** Where the server's protected resource metadata lives (RFC 9728 §5.1). */
  resourceMetadata?: string;
}

// RFC 7230 §3.2.6 tchar.
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

interface Challenge {
  scheme: string;
  params: Map<string, string>;
}

/** The first Bearer challenge in `header`, or undefined when there is none. */
export function parseBearerChallenge(header: string | null | undefined): BearerChallenge | undefined {
  if (header === null || header === undefined) return undefined;
  const bearer = parseChallenges(header).find((c) => c.scheme === 'bearer');
  if (bearer === undefined) return undefined;
  const result: BearerChallenge = {};
  const error = bearer.params.get('error');
  if (error !== undefined && error !== '') result.error = error;
  const scope = bearer.params.get('scope');
  if (scope !== undefined) {
    const scopes = scope.split(' ').filter((s) => s !== '');
    if (scopes.length > 0) result.scope = scopes;
  }
  const metadata = bearer.params.get('resource_metadata');
  if (metadata !== undefined && metadata !== '') result.resourceMetadata = metadata;
  return result;
}

function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const skipWhitespace = (from: number): number => {
    let j = from;
    while (header[j] === ' ' || header[j] === '\t') j++;
    return j;
  };
  while (i < header.length) {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
    if (i >= header.length) break;
    TOKEN.lastIndex = i;
    const name = TOKEN.exec(header)?.[0];
    if (name === undefined) {
      i++; // not a token: skip the character rather than give up on the rest
      continue;
    }
    i = TOKEN.lastIndex;
    const afterName = skipWhitespace(i);
    if (header[afterName] !== '=') {
      current = { scheme: name.toLowerCase(), params: new Map() };
      challenges.push(current);
      continue;
    }
    const valueStart = skipWhitespace(afterName + 1);
    const { value, end } = readValue(header, valueStart);
    i = end;
    // RFC 7235: a parameter name occurs at most once; the first one wins.
    const key = name.toLowerCase();
    if (current !== undefined && !current.params.has(key)) current.params.set(key, value);
  }
  return challenges;
}

function readValue(header: string, start: number): { value: string; end: number } {
  if (header[start] !== '"') {
    TOKEN.lastIndex = start;
    const token = TOKEN.exec(header)?.[0];
    return token === undefined ? { value: '', end: start } : { value: token, end: TOKEN.lastIndex };
  }
  let value = '';
  let i = start + 1;
  while (i < header.length && header[i] !== '"') {
    // quoted-pair: a backslash takes the next character literally.
    if (header[i] === '\\' && i + 1 < header.length) i++;
    value += header[i];
    i++;
  }
  return { value, end: i + 1 };
}
