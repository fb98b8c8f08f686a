/**
 * How the daemon's Node process is started by everything that starts it for
 * the user: `npm start`, the systemd unit and the LaunchAgent
 * (client/service-unit.ts). package.json's start script repeats these flags;
 * test/client/service-unit.test.ts keeps the two in step and checks that this
 * Node accepts them (an unknown flag stops Node before the daemon runs).
 *
 * Heap flags cannot be changed once Node runs, so they have to be on the
 * command line. All three are about memory under a sustained burst of
 * requests, measured with 10,000 credentials in use (docs/benchmarks.md). The
 * first two did not change throughput measurably; the third costs about a
 * tenth more CPU per token.get under a load that saturates a core, which a
 * per-user daemon that runs all day trades for a footprint that stays put.
 */
export const DAEMON_NODE_OPTIONS: readonly string[] = [
  // V8 lets the young generation grow to 16 MB per semi-space on 64-bit,
  // sized for throughput servers; once grown it was never given back. A
  // daemon whose requests live for a millisecond does as well with 2 MB.
  '--max-semi-space-size=2',
  // Under load V8 saw per-request objects survive a scavenge and began
  // allocating them straight into the old generation, where they piled up as
  // garbage until the next full collection: resident memory climbed to 170-210
  // MB and fell back, over and over. Without it: flat at 102-116 MB.
  '--no-allocation-site-pretenuring',
  // V8's own "favour memory over speed": among other things a smaller heap
  // growing factor, so the old generation is collected before it doubles.
  // With the two above the daemon still spiked to 115-145 MB now and then;
  // with this, 93-101 MB over the same 60 s.
  '--optimize-for-size',
];
