/**
 * `mcpauthd policy` (issue 18): per resource, allow (the default), confirm
 * (ask the user once per program) or deny (only programs allowed by name);
 * programs are named as `mcpauthd audit` shows them.
 */
import type { ResourcePolicy } from '../../shared/protocol/audit-policy-types.js';
import { EXIT, UsageError, str, withClient } from './cli-core.js';
import { parseDuration } from './duration.js';

type Values = Record<string, string | boolean | undefined>;
const MODES = ['allow', 'confirm', 'deny'] as const;

function args(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length !== count) throw new UsageError(`expected: mcpauthd policy ${usage}`);
  return positionals;
}

export async function runPolicy(values: Values, positionals: string[]): Promise<number> {
  const [sub, ...rest] = positionals;
  const json = values['json'] === true;
  const print = (policy: ResourcePolicy, extra = '') => process.stdout.write(json ? `${JSON.stringify(policy)}\n` : `${formatPolicy(policy, Date.now())}${extra}`);
  switch (sub) {
    case undefined:
    case 'show': {
      args(rest, 0, 'show [--json]');
      const result = await withClient(values, (c) => c.policyShow());
      if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(result.policies.length === 0 ? 'every resource: allow (the default); set one with: mcpauthd policy set <server-url|resource> allow|confirm|deny\n' : `${result.policies.map((p) => formatPolicy(p, Date.now())).join('\n')}\nother resources: allow (the default)\n`);
      return EXIT.ok;
    }
    case 'set': {
      const [target, mode] = args(rest, 2, 'set <server-url|resource> allow|confirm|deny') as [string, string];
      if (!(MODES as readonly string[]).includes(mode)) throw new UsageError(`the mode must be allow, confirm or deny, got ${JSON.stringify(mode)}`);
      print(await withClient(values, (c) => c.policySet(target, mode as (typeof MODES)[number])));
      return EXIT.ok;
    }
    case 'allow': {
      const [target, program] = args(rest, 2, "allow <server-url|resource> '<program as audit shows it>' [--for 30d]") as [string, string];
      const forText = str(values['for']);
      const forSec = forText === undefined ? undefined : parseDuration(forText, '--for');
      print(await withClient(values, (c) => c.policyAllow(target, program, forSec)));
      return EXIT.ok;
    }
    case 'revoke': {
      const [target, program] = args(rest, 2, "revoke <server-url|resource> '<program>'") as [string, string];
      const result = await withClient(values, (c) => c.policyRevoke(target, program));
      print(result, json ? '' : result.revoked ? '' : `(${program} had no approval for ${result.resource})\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown policy command ${JSON.stringify(sub)}: show, set, allow or revoke`);
  }
}

export function formatPolicy(p: ResourcePolicy, nowMs: number): string {
  const approvals = p.approvals.map((a) => {
    const until = a.expires_at === null ? 'until revoked' : a.expires_at * 1000 <= nowMs ? 'expired' : `until ${new Date(a.expires_at * 1000).toISOString()}`;
    return `  allowed: ${a.program} (${until}, ${a.source === 'prompt' ? 'approved when asked' : 'policy allow'})`;
  });
  return `${p.resource}: ${p.mode}\n${approvals.map((l) => `${l}\n`).join('')}`;
}
