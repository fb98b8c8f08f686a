/**
 * One test that hunts for the next lost grant (issue 12): a seeded,
 * model-based run (fast-check) of random step sequences against the real
 * daemon process and a real oidc-provider with rotating refresh tokens and
 * 3-second access tokens. Steps: login (with or without mcp:admin), logout,
 * token.get with and without min_ttl and scopes, credential.refresh,
 * concurrent calls, SIGTERM + restart, SIGKILL + restart, and the token
 * endpoint slow (1.5 s), stalled for longer than the daemon's HTTP timeout,
 * down (connections reset), dropping token requests unanswered, answering
 * 5xx, answering invalid_grant, narrowing the scopes of refreshed grants.
 *
 * After every step (test/helpers/lifecycle-audit.ts): no token served or
 * stored for another resource or audience; no refresh token presented to the
 * server again after it rotated, except where a SIGKILL cut the commit (each
 * such case counted and attributed to its kill); no credential lost unless
 * logged out or its current grant was rejected by the server; PRAGMA
 * integrity_check ok. At the end of a run, with the server healthy, every
 * credential not rightly lost refreshes and serves its own token.
 *
 * Replay: FC_SEED=<seed> [FC_PATH=<path>] (printed on failure; the clock is
 * real, so timings vary between replays). Longer: MCPAUTHD_MBT_RUNS=<runs>
 * MCPAUTHD_MBT_STEPS=<max steps per run>. Fault kinds: MCPAUTHD_MBT_FAULTS
 * (comma list of slow,stall,down,reset,5xx,invalid_grant,narrow; default below).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTP_TIMEOUT_MS } from '../daemon/oauth/http-fetch.js';
import { finalCheck, lifecycleCommands, logIn, type LifecycleModel } from './helpers/lifecycle-commands.js';
import { LifecycleWorld, type FaultKind } from './helpers/lifecycle-world.js';

const ACCESS_TOKEN_TTL_SEC = 3;
const RESOURCES = 3;
const ALL_FAULTS: readonly FaultKind[] = ['slow', 'stall', 'down', 'reset', '5xx', 'invalid_grant', 'narrow'];
/**
 * Fault kinds run by default: all of them. 'stall' passes only with the fixes
 * of issue 12 items 1 and 3 (merged here from h-refresh): on the code before
 * them it fails at once (refresh token presented twice, the daemon gave up
 * after 10 s and the server rotated later). Leave a kind out with
 * MCPAUTHD_MBT_FAULTS if a branch without those fixes must run this test.
 */
const DEFAULT_FAULTS: readonly FaultKind[] = ['slow', 'stall', 'down', 'reset', '5xx', 'invalid_grant', 'narrow'];

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, not ${raw}`);
  return value;
}

function envFaults(): readonly FaultKind[] {
  const raw = process.env['MCPAUTHD_MBT_FAULTS'];
  if (raw === undefined) return DEFAULT_FAULTS;
  const kinds = raw.split(',').filter((k) => k !== '');
  for (const kind of kinds) if (!ALL_FAULTS.includes(kind as FaultKind)) throw new Error(`MCPAUTHD_MBT_FAULTS: unknown fault kind ${kind} (known: ${ALL_FAULTS.join(', ')})`);
  return kinds as FaultKind[];
}

const RUNS = envInt('MCPAUTHD_MBT_RUNS', 3);
const STEPS = envInt('MCPAUTHD_MBT_STEPS', 15);
const SEED = process.env['FC_SEED'] !== undefined && process.env['FC_SEED'] !== '' ? envInt('FC_SEED', 0) | 0 : (Date.now() ^ (process.pid << 10)) | 0;
const PATH = process.env['FC_PATH'] || undefined;
const FAULTS = envFaults();
/** The stall outlasts the daemon's HTTP timeout, as the server stopped in issue 12 item 1 did. */
const STALL_MS = HTTP_TIMEOUT_MS + 1_500;

describe('lifecycle model: random steps against the real daemon and authorization server', () => {
  let world: LifecycleWorld;

  beforeAll(async () => {
    world = await LifecycleWorld.start({ resources: RESOURCES, accessTokenTtlSec: ACCESS_TOKEN_TTL_SEC, stallMs: STALL_MS });
  });

  afterAll(async () => {
    await world?.stop();
  });

  it(
    `should never serve a crossed token, present a rotated refresh token outside a SIGKILL's commit window, or lose a credential (${RUNS} runs of up to ${STEPS} steps)`,
    async () => {
      process.stdout.write(`lifecycle-model: seed ${SEED} (replay: FC_SEED=${SEED}), ${RUNS} runs, up to ${STEPS} steps, faults: ${FAULTS.join(',') || 'none'}\n`);
      const summaries: string[] = [];
      let run = 0;
      const property = fc.asyncProperty(fc.noBias(fc.commands(lifecycleCommands({ accessTokenTtlSec: ACCESS_TOKEN_TTL_SEC, faults: FAULTS }), { maxCommands: STEPS, size: 'max' })), async (commands) => {
        run += 1;
        const model: LifecycleModel = { creds: new Map(), fault: 'none', permittedReuse: [], stalled: false };
        await world.beginRun();
        try {
          // Every resource starts logged in, all but the last with mcp:admin, so the steps act on live grants.
          for (const [i, resource] of world.resources.entries()) await logIn(world, model, resource, i < world.resources.length - 1);
          world.note(`steps: ${[...commands].map(String).join(' | ')}`);
          await fc.asyncModelRun(() => ({ model, real: world }), commands);
          await finalCheck(world, model);
          const refreshes = world.as.requests('token').filter((r) => r.grantType === 'refresh_token');
          const kills = model.permittedReuse.map(
            (c) =>
              `kill ${c.kill + 1} (${c.resource}, ${
                c.answerToKillMs === null ? 'answer still pending' : c.answerToKillMs >= 0 ? `answer sent ${c.answerToKillMs} ms before it` : `answer sent ${-c.answerToKillMs} ms after it`
              })`,
          );
          summaries.push(
            `run ${run}: ${world.timeline.filter((t) => !t.what.startsWith('daemon started')).length} steps, ${refreshes.length} refresh requests ` +
              `(${refreshes.filter((r) => r.status === 200).length} rotated), ${world.kills.length} SIGKILLs, ${world.terms.length} SIGTERMs, ` +
              `faults [${world.faultsApplied.join(' ')}], ` +
              `${model.permittedReuse.length} refresh tokens presented again in a SIGKILL's commit window${kills.length > 0 ? `: ${kills.join('; ')}` : ''}`,
          );
        } catch (err) {
          // Everything needed to read the failure, kept out of the test output (it holds debug logs).
          const file = join(tmpdir(), `mcpauthd-mbt-${SEED}-run${run}.log`);
          const timeline = world.timeline.map((t) => `${new Date(t.at).toISOString().slice(11, 23)} ${t.what}`).join('\n');
          writeFileSync(file, `${timeline}\n\n--- daemon log ---\n${world.daemonLog()}\n`, { mode: 0o600 });
          throw new Error(`${(err as Error).message}\n  (timeline and daemon log: ${file})`, { cause: err });
        } finally {
          await world.endRun();
        }
      });
      try {
        await fc.assert(property, { seed: SEED, ...(PATH === undefined ? {} : { path: PATH }), numRuns: RUNS, endOnFailure: true });
      } finally {
        process.stdout.write(`lifecycle-model: seed ${SEED}\n  ${summaries.join('\n  ')}\n`);
      }
      expect(summaries.length).toBe(PATH === undefined ? RUNS : summaries.length);
    },
    60_000 + RUNS * STEPS * 20_000,
  );
});
