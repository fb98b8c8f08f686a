/**
 * Bench section `sealing` (issue 17): what encryption at rest costs.
 *
 *   1. start-up: a plaintext database of N credentials sealed at the first
 *      start (the migration), then spawn → ready of the daemon on the sealed
 *      database (target < 1 s at 10,000), against a daemon holding 1;
 *   2. the store in this process, sealed against a plaintext copy of the same
 *      rows, alternating: reading every credential cold (each read opens its
 *      sealed columns) and warm lookups (the record cache, what token.get
 *      uses): the difference is the cost of sealing;
 *   3. token.get over the socket with N credentials asked at random, the
 *      sealed daemon against the node-ipc echo floor, interleaved rounds.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BENCH_DIST,
  childNodeArgs,
  FAKE_SERVER_URL_TEMPLATE,
  fakeServerUrl,
  makeHome,
  plantCredentials,
  startDaemonProcess,
  startReadyProcess,
} from './common.js';
import type { LoadArgs, LoadResult } from './load-client.js';
import type { BenchContext, SealingResults } from './results-shape.js';
import { RpcChild } from './rpc.js';
import { sampleResult } from './sample-result.js';
import { median, round } from './stats.js';


export async function runSealing(ctx: BenchContext): Promise<SealingResults> {
  const { config, log } = ctx;
  const n = config.credentials;
  const many = makeHome('seal');
  const one = makeHome('seal1');
  log(`sealing: planting ${n} plaintext credentials...`);
  await plantCredentials(many, n);
  await plantCredentials(one, 1);
  // A plaintext copy of the same rows for the in-process comparison, taken before the daemon seals them.
  const plain = makeHome('plain');
  copyFileSync(many.paths.database, plain.paths.database);

  const first = await startDaemonProcess(many);
  await first.stop();
  log(`  first start (seals ${n} credentials): ${round(first.readyMs, 0)} ms`);
  const oneFirst = await startDaemonProcess(one);
  await oneFirst.stop();

  const manyAll: number[] = [];
  const oneAll: number[] = [];
  for (let r = 0; r < config.startupRuns; r++) {
    for (const [home, times] of r % 2 === 0 ? ([[many, manyAll], [one, oneAll]] as const) : ([[one, oneAll], [many, manyAll]] as const)) {
      const d = await startDaemonProcess(home);
      times.push(d.readyMs);
      await d.stop();
    }
  }
  log(`  start-up, sealed: ${n} credentials ${round(median(manyAll), 0)} ms, 1 credential ${round(median(oneAll), 0)} ms`);

  const store = await storeComparison(many.paths, plain.paths.database, n, config.quick ? 1 : 5);
  log(`  store: cold read ${round(store.coldReadUs.sealed, 2)} µs sealed vs ${round(store.coldReadUs.plaintext, 2)} µs plaintext per credential; warm lookup ${round(store.warmLookupUs.sealed, 3)} vs ${round(store.warmLookupUs.plaintext, 3)} µs`);

  const tokenGet = await socketComparison(many, n, ctx);
  log(`  token.get ${tokenGet.clients} clients: sealed daemon ${round(tokenGet.sealedRps, 0)}/s, echo floor ${round(tokenGet.echoRps, 0)}/s`);
  for (const home of [many, one, plain]) home.remove();
  return { credentials: n, migrationStartMs: first.readyMs, startup: { sealedManyMs: median(manyAll), sealedOneMs: median(oneAll), manyAll, oneAll }, store, tokenGet };
}

/** The same N rows, sealed and plaintext, read in this process, alternating `rounds` times; medians. */
async function storeComparison(sealedPaths: { database: string; keyFile: string; home: string }, plainDatabase: string, n: number, rounds: number): Promise<SealingResults['store']> {
  const { TokenStore } = await import('../../daemon/store/token-store.js');
  const { keyFileSource, resolveDataKey } = await import('../../daemon/store/key-provider.js');
  const sources = { keychain: () => keyFileSource(sealedPaths.keyFile, sealedPaths.home), key_file: () => keyFileSource(sealedPaths.keyFile, sealedPaths.home) };
  const open = (sealed: boolean) =>
    sealed
      ? TokenStore.open(sealedPaths.database, { dataKey: (sealedBy) => resolveDataKey({ sealedBy, choice: 'key_file', sources, database: sealedPaths.database }) })
      : TokenStore.open(plainDatabase);
  const cold: Record<'sealed' | 'plaintext', number[]> = { sealed: [], plaintext: [] };
  const warm: Record<'sealed' | 'plaintext', number[]> = { sealed: [], plaintext: [] };
  const urls = Array.from({ length: n }, (_, i) => fakeServerUrl(i));
  // Round 0 is a warm-up (JIT of both paths), not recorded.
  for (let r = 0; r <= rounds; r++) {
    for (const kind of r % 2 === 0 ? (['sealed', 'plaintext'] as const) : (['plaintext', 'sealed'] as const)) {
      const store = open(kind === 'sealed');
      try {
        let t = performance.now();
        for (const url of urls) store.findByServerUrl(url);
        const coldUs = ((performance.now() - t) * 1000) / n;
        t = performance.now();
        const lookups = 20 * n;
        for (let i = 0; i < lookups; i++) store.findByServerUrl(urls[(i * 7919) % n] as string);
        const warmUs = ((performance.now() - t) * 1000) / lookups;
        if (r > 0) {
          cold[kind].push(coldUs);
          warm[kind].push(warmUs);
        }
      } finally {
        store.close();
      }
    }
  }
  return {
    coldReadUs: { sealed: median(cold.sealed), plaintext: median(cold.plaintext) },
    warmLookupUs: { sealed: median(warm.sealed), plaintext: median(warm.plaintext) },
  };
}

/** token.get over the socket, N credentials at random: the sealed daemon against the echo floor, alternating rounds. */
async function socketComparison(home: ReturnType<typeof makeHome>, n: number, ctx: BenchContext): Promise<SealingResults['tokenGet']> {
  const { config } = ctx;
  const daemon = await startDaemonProcess(home);
  const echoHome = makeHome('secho');
  const resultFile = join(echoHome.root, 'result.json');
  writeFileSync(resultFile, JSON.stringify(await sampleResult(home.paths.socket, fakeServerUrl(0))));
  const echo = await startReadyProcess([join(BENCH_DIST, 'echo-server.js'), echoHome.paths.socket, resultFile, String(n)], 'echo ready');
  const loader = new RpcChild(join(BENCH_DIST, 'load-client.js'), [], childNodeArgs);
  await loader.whenReady();
  const args = (socket: string, durationMs: number): LoadArgs => ({ socket, clients: config.concurrency, warmupMs: config.warmupMs, durationMs, template: FAKE_SERVER_URL_TEMPLATE, count: n });
  const rounds: { sealed: number; echo: number }[] = [];
  const p99: { sealed: number[]; echo: number[] } = { sealed: [], echo: [] };
  try {
    // Warm-up, unrecorded: JIT, and the daemon's record cache (each first read opens its row).
    await loader.call<LoadResult>('load', args(home.paths.socket, config.quick ? 100 : 3000));
    await loader.call<LoadResult>('load', args(echoHome.paths.socket, config.quick ? 50 : 1000));
    for (let r = 0; r < config.rounds; r++) {
      const row = { sealed: 0, echo: 0 };
      for (const kind of r % 2 === 0 ? (['sealed', 'echo'] as const) : (['echo', 'sealed'] as const)) {
        const result = await loader.call<LoadResult>('load', args(kind === 'sealed' ? home.paths.socket : echoHome.paths.socket, config.durationMs));
        if (result.errors > 0) ctx.log(`  ${kind}: ${result.errors} errors, first: ${result.firstError}`);
        row[kind] = result.rps;
        p99[kind].push(result.latency.p99);
      }
      rounds.push(row);
    }
  } finally {
    await loader.stop();
    await echo.stop();
    await daemon.stop();
    echoHome.remove();
  }
  return {
    clients: config.concurrency,
    sealedRps: median(rounds.map((r) => r.sealed)),
    echoRps: median(rounds.map((r) => r.echo)),
    sealedP99Ms: median(p99.sealed),
    echoP99Ms: median(p99.echo),
    rounds,
  };
}
