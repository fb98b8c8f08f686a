/**
 * An `onAuthorizeUrl` for the client adapters that "opens" each authorize URL
 * in the scripted browser (the test user approves at once) and remembers how
 * many logins were asked for. Browser failures are kept, not thrown, so a
 * failed login shows up in the test's assertions instead of as an unhandled
 * rejection.
 */
import { completeLogin } from '../fixtures/browser.js';

export interface ScriptedApprover {
  onAuthorizeUrl(url: string): void;
  /** Authorize URLs received, oldest first. */
  readonly urls: string[];
  readonly errors: Error[];
  /** The `scope` parameter of each authorize URL, split. */
  scopes(): string[][];
}

export function scriptedApprover(): ScriptedApprover {
  const urls: string[] = [];
  const errors: Error[] = [];
  return {
    urls,
    errors,
    onAuthorizeUrl(url: string) {
      urls.push(url);
      completeLogin(url).catch((err: unknown) => errors.push(err instanceof Error ? err : new Error(String(err))));
    },
    scopes: () => urls.map((u) => (new URL(u).searchParams.get('scope') ?? '').split(' ').filter((s) => s !== '')),
  };
}
