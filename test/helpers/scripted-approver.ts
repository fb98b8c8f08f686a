/**
 * An `onAuthorizeUrl` for the client adapters that "opens" each login's start URL
 * in the scripted browser (the test user approves at once) and remembers how
 * many logins were asked for. Browser failures are kept, not thrown, so a
 * failed login shows up in the test's assertions instead of as an unhandled
 * rejection.
 */
import { completeLogin } from '../fixtures/browser.js';

export interface ScriptedApprover {
  onAuthorizeUrl(url: string): void;
  /** URLs received (the daemon's start URLs), oldest first. */
  readonly urls: string[];
  /** The authorize URL each start URL redirected to, same order. */
  readonly authorizeUrls: string[];
  readonly errors: Error[];
  /** The `scope` parameter of each authorize URL, split. */
  scopes(): string[][];
}

export function scriptedApprover(): ScriptedApprover {
  const urls: string[] = [];
  const authorizeUrls: string[] = [];
  const errors: Error[] = [];
  return {
    urls,
    authorizeUrls,
    errors,
    onAuthorizeUrl(url: string) {
      const index = urls.length;
      urls.push(url);
      completeLogin(url, { onAuthorizeUrl: (authorize) => (authorizeUrls[index] = authorize) }).catch((err: unknown) =>
        errors.push(err instanceof Error ? err : new Error(String(err))),
      );
    },
    scopes: () => authorizeUrls.map((u) => (new URL(u).searchParams.get('scope') ?? '').split(' ').filter((s) => s !== '')),
  };
}
