/**
 * `mcpauthd refresh` and `mcpauthd logout`: one credential, named by server URL
 * or resource, refreshed now or forgotten. Loaded only when one of them runs.
 */
import { EXIT, onePositional, waitNotice, withClient } from './cli-core.js';

type Values = Record<string, string | boolean | undefined>;

export async function runRefresh(values: Values, positionals: string[]): Promise<number> {
  const target = onePositional(positionals, 'server-url|resource');
  const result = await withClient(values, (c) => waitNotice(c.refresh(target)));
  const { relativeTime } = await import('./status-format.js');
  process.stdout.write(
    values['json'] === true
      ? `${JSON.stringify(result)}\n`
      : `refreshed ${result.resource}; expires ${result.expires_at === null ? 'at an unknown time' : `${new Date(result.expires_at * 1000).toISOString()} (${relativeTime(result.expires_at, Date.now())})`}\n`,
  );
  return EXIT.ok;
}

export async function runLogout(values: Values, positionals: string[]): Promise<number> {
  const target = onePositional(positionals, 'server-url|resource');
  const result = await withClient(values, (c) => c.logout(target));
  if (values['json'] === true) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    const names = result.revoked_tokens.map((t) => t.replace('_', ' '));
    const revoked = names.length === 0 ? '; nothing revoked at the authorization server' : `; revoked at the authorization server: ${names.join(' and ')}`;
    process.stdout.write(`logged out of ${result.resource ?? target}${revoked}\n`);
    if (result.revocation_note !== null) process.stderr.write(`note: ${result.revocation_note}\n`);
  }
  return EXIT.ok;
}
