/**
 * `mcpauthd audit` (issue 18): who was served which credential, newest first,
 * as a table a person reads at a glance, or JSON for scripts. Names and codes
 * only: the daemon never records a token.
 */
import type { AuditEvent } from '../../shared/protocol/audit-policy-types.js';
import { EXIT, UsageError, parseSeconds, str, withClient } from './cli-core.js';
import { parseDuration } from './duration.js';

type Values = Record<string, string | boolean | undefined>;

export async function runAudit(values: Values, positionals: string[]): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const since = str(values['since']);
  const limit = str(values['limit']);
  const nowMs = Date.now();
  const params = {
    ...(str(values['resource']) === undefined ? {} : { resource: str(values['resource']) as string }),
    ...(str(values['program']) === undefined ? {} : { program: str(values['program']) as string }),
    ...(since === undefined ? {} : { since: Math.floor(nowMs / 1000) - parseDuration(since, '--since') }),
    ...(limit === undefined ? {} : { limit: parseSeconds(limit, '--limit') }),
  };
  const result = await withClient(values, (c) => c.audit(params));
  if (values['json'] === true) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return EXIT.ok;
  }
  process.stdout.write(formatAudit(result.events, result.truncated, nowMs));
  return EXIT.ok;
}

/** What happened, in a few words: "token.get", "refresh (scheduled)", "token.get: denied", "login: error not_found". */
export function what(e: AuditEvent): string {
  const once = e.detail === null ? e.method : `${e.method} (${e.detail})`;
  // Identical requests in one write batch are one event (docs/protocol.md audit.list).
  const base = e.count > 1 ? `${once} x${e.count}` : once;
  if (e.outcome === 'ok') return base;
  if (e.outcome === 'denied') return `${base}: DENIED`;
  return `${base}: error ${e.error_code ?? ''}`.trimEnd();
}

function when(at: number, nowMs: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return nowMs - at < 86_400_000 ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function formatAudit(events: readonly AuditEvent[], truncated: boolean, nowMs: number): string {
  if (events.length === 0) return 'no audit events match\n';
  const headers = ['TIME', 'WHAT', 'RESOURCE', 'PID', 'PROGRAM'];
  const rows = events.map((e) => [when(e.at, nowMs), what(e), e.resource ?? '-', e.pid === null ? '-' : String(e.pid), e.program]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  const more = truncated ? `(older events not shown: use --limit, --since, --resource or --program)\n` : '';
  return `${[line(headers), ...rows.map(line)].join('\n')}\n${more}`;
}
