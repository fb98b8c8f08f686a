/**
 * Issue 12 item 8, invariant 1: a lookup folds only what docs/protocol.md
 * documents (scheme and host case, default port, fragment, empty path). An
 * input the URL parser would rewrite in any other way is refused with
 * invalid_request naming the canonical form, never matched to a credential.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { McpAuthdClient } from '../../client/index.js';
import { Secret } from '../../daemon/store/secret.js';
import { isAuthdError } from '../../shared/errors.js';
import { resourceKey } from '../../shared/resource-uri.js';
import { startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';

const PORT = 44397;
const STORED = `http://127.0.0.1:${PORT}/a/mcp`;

/** Each of these reaches http://127.0.0.1:44397/a/mcp through WHATWG `new URL()`. */
const REWRITTEN: readonly [string, string][] = [
  ['a "." segment', `http://127.0.0.1:${PORT}/a/./mcp`],
  ['a ".." segment', `http://127.0.0.1:${PORT}/a/x/../mcp`],
  ['a trailing "?"', `http://127.0.0.1:${PORT}/a/mcp?`],
  ['a hex IPv4 part', `http://0x7f.0.0.1:${PORT}/a/mcp`],
  ['a decimal IPv4 address', `http://2130706433:${PORT}/a/mcp`],
  ['a port with a leading zero', `http://127.0.0.1:0${PORT}/a/mcp`],
  ['backslashes', `http:\\\\127.0.0.1:${PORT}\\a\\mcp`],
  ['surrounding spaces', `  http://127.0.0.1:${PORT}/a/mcp  `],
  ['a tab', `http://127.0.0.1:${PORT}/a/\tmcp`],
  ['a trailing NUL', `http://127.0.0.1:${PORT}/a/mcp\u0000`],
];

/** The documented folds: these must still find the credential. */
const FOLDED: readonly [string, string][] = [
  ['scheme case', `HTTP://127.0.0.1:${PORT}/a/mcp`],
  ['a fragment', `${STORED}#section`],
];

describe('resourceKey folds only what is documented (item 8, invariant 1)', () => {
  it.each(REWRITTEN)('should refuse %s with invalid_request naming the canonical form', (_what, input) => {
    let caught: unknown;
    try {
      resourceKey(input);
    } catch (err) {
      caught = err;
    }
    expect(isAuthdError(caught, 'invalid_request')).toBe(true);
    expect((caught as Error).message).toContain(STORED);
  });

  it('should still fold scheme and host case, the default port, a fragment and an empty path', () => {
    expect(resourceKey('HTTPS://A.Example:443/mcp#x')).toBe('https://a.example/mcp');
    expect(resourceKey('http://A.example:80')).toBe('http://a.example/');
    expect(resourceKey('https://a.example/mcp?x=1')).toBe('https://a.example/mcp?x=1');
    expect(resourceKey('https://[::1]:8443/mcp')).toBe('https://[::1]:8443/mcp');
  });
});

describe('token.get through the daemon (item 8)', () => {
  let t: TestDaemon;
  let client: McpAuthdClient;
  beforeAll(async () => {
    t = await startTestDaemon();
    t.daemon.store.saveCredential({
      resource: STORED, serverUrl: STORED, issuer: 'https://as.example.com', clientId: 'c', scopes: [],
      accessToken: new Secret('at-exact-lookup'), tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, refreshToken: null, refreshAt: null,
    });
    client = new McpAuthdClient({ socket: t.home.paths.socket });
  });
  afterAll(async () => {
    client.close();
    await t.stop();
  });

  it.each(REWRITTEN)('should not serve the token of %s', async (_what, input) => {
    for (const byResource of [true, false]) {
      const answer = await client.getToken(input, { byResource }).then((r) => r.resource, (err: unknown) => err);
      expect(isAuthdError(answer, 'invalid_request')).toBe(true);
      expect((answer as Error).message).toContain(STORED);
    }
  });

  // The first-level read cache is keyed by the string asked for: it must never
  // answer a rewritten form because the canonical one was served before it.
  it('should refuse every rewritten form with the cache warm from the stored one', async () => {
    for (const byResource of [true, false]) expect((await client.getToken(STORED, { byResource })).resource).toBe(STORED);
    for (const [, input] of REWRITTEN) {
      for (const byResource of [true, false]) {
        const answer = await client.getToken(input, { byResource }).then((r) => r.resource, (err: unknown) => err);
        expect(isAuthdError(answer, 'invalid_request')).toBe(true);
      }
    }
  });

  it.each(FOLDED)('should still serve it through %s', async (_what, input) => {
    expect((await client.getToken(input, { byResource: true })).resource).toBe(STORED);
    expect((await client.getToken(input)).resource).toBe(STORED);
  });
});
