/**
 * Who is asking (issue 18): from the peer pid the peer check read, the program
 * behind a connection, for the audit trail and the per-resource policy.
 *
 * - The executable is what the kernel says (process-view.ts), never argv[0].
 * - For an interpreter (node, python, bun, deno, ruby, perl, php, a shell) the
 *   script it runs is part of the name: "/usr/bin/python3.12 /home/me/sync.py".
 *   Inline code (`-c`, `-e`) is named by its flag only: the code itself may
 *   hold anything, a token included, and is never recorded.
 * - The parent chain is read up to the first process that is neither an
 *   interpreter nor a shell (at most MAX_PARENTS), and the program a request
 *   is attributed to is the first process, from the peer upwards, that is not
 *   a pass-through: mcpauthd's own command (`mcpauthd proxy`, `mcpauthd
 *   token`), a package runner (npx, npm exec) or a shell running a command
 *   line rather than a script file. So the proxy an MCP client started is
 *   shown as that client's, and a script that runs `mcpauthd token` as the
 *   script's.
 * - A process gone before it is read is recorded as gone, never guessed.
 *
 * Computed once per connection, when it is accepted (socket-server.ts), so
 * the hot path pays nothing and a short-lived client is read while it lives.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { IdentityReader, ProcessReader, RawProcess } from './process-view.js';

export type ProcessKind = 'interpreter' | 'shell' | 'program' | 'gone' | 'unknown';

/** One process as audit shows it. */
export interface ProcessView {
  pid: number;
  kind: ProcessKind;
  /** Executable path; null when gone or unreadable. */
  exe: string | null;
  /** An interpreter's script (absolute path), `-m module`, or the inline-code flag (`-c`, `-e`); null otherwise. */
  script: string | null;
  /** How audit and policy name it: exe, or exe and script. */
  name: string;
}

export interface Caller {
  /** The peer's pid; null when the peer check could not read one (macOS getpeereid, the fallback). */
  pid: number | null;
  /** The program the request is attributed to (policy matches this name). */
  program: string;
  /** The pid of that program. */
  programPid: number | null;
  /** The peer itself, then its parents, nearest first, ending at the first process that is neither interpreter nor shell. */
  chain: ProcessView[];
}

/** Name of a caller whose pid is unknown, and of one that is gone. Fixed strings: policy never matches them. */
export const UNKNOWN_PROGRAM = '(unknown program)';
export const GONE_PROGRAM = '(process gone)';
export const MAX_PARENTS = 16;

const SHELLS = /^(sh|bash|zsh|dash|ash|ksh|mksh|pdksh|yash|fish|tcsh|csh|busybox)$/;

interface ArgRules {
  /** Options whose value is the next argument. */
  takesValue: ReadonlySet<string>;
  /** Options whose argument is inline code: named by the flag only. */
  inline: ReadonlySet<string>;
  /** Options that name a module to run (`python -m pkg`). */
  module?: ReadonlySet<string>;
  /** Subcommands before the script (`deno run x.ts`, `bun run x.ts`). */
  subcommands?: ReadonlySet<string>;
}

const set = (...items: string[]): ReadonlySet<string> => new Set(items);

/**
 * Node's options that take the next argument as their value when not written
 * `--opt=value` (`node --help`, Node 20 and 22). One missing here made the
 * value the script: `node --cpu-prof-interval 50 app.js` was named "node 50".
 */
const NODE_OPTIONS_WITH_VALUE = set(
  '-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions', '--env-file', '--env-file-if-exists', '--input-type', '--title',
  '--allow-fs-read', '--allow-fs-write', '--build-snapshot-config', '--cpu-prof-dir', '--cpu-prof-interval', '--cpu-prof-name', '--diagnostic-dir',
  '--disable-proto', '--disable-warning', '--dns-result-order', '--experimental-default-type', '--experimental-policy', '--experimental-sea-config',
  '--heap-prof-dir', '--heap-prof-interval', '--heap-prof-name', '--heapsnapshot-near-heap-limit', '--heapsnapshot-signal', '--icu-data-dir',
  '--inspect-publish-uid', '--max-http-header-size', '--network-family-autoselection-attempt-timeout', '--openssl-config', '--policy-integrity',
  '--redirect-warnings', '--report-dir', '--report-directory', '--report-filename', '--report-signal', '--secure-heap', '--secure-heap-min',
  '--snapshot-blob', '--stack-trace-limit', '--test-concurrency', '--test-name-pattern', '--test-reporter', '--test-reporter-destination', '--test-shard',
  '--test-timeout', '--tls-cipher-list', '--tls-keylog', '--trace-event-categories', '--trace-event-file-pattern', '--trace-require-module',
  '--unhandled-rejections', '--use-largepages', '--v8-pool-size', '--watch-path',
);

const INTERPRETERS: readonly [RegExp, ArgRules][] = [
  [/^(node|nodejs)(\d+)?$/, { takesValue: NODE_OPTIONS_WITH_VALUE, inline: set('-e', '--eval', '-p', '--print') }],
  [/^(python|pypy)(\d+(\.\d+)*)?$/, { takesValue: set('-W', '-X', '--check-hash-based-pycs'), inline: set('-c'), module: set('-m') }],
  [/^bun$/, { takesValue: set('--cwd', '-r', '--preload', '--config', '-c'), inline: set('-e', '--eval', '-p', '--print'), subcommands: set('run', 'x') }],
  [/^deno$/, { takesValue: set('--config', '-c', '--import-map', '--env-file', '--location', '--seed', '--v8-flags'), inline: set('eval'), subcommands: set('run', 'serve', 'task', 'test') }],
  [/^ruby(\d+(\.\d+)*)?$/, { takesValue: set('-I', '-r', '-C', '-E'), inline: set('-e') }],
  [/^perl(\d+(\.\d+)*)?$/, { takesValue: set('-I', '-M', '-m'), inline: set('-e', '-E') }],
  [/^php(\d+(\.\d+)*)?$/, { takesValue: set('-c', '-d', '-z'), inline: set('-r'), module: set('-f') }],
];

const SHELL_RULES: ArgRules = { takesValue: set('-o', '+o', '-O', '+O', '--rcfile', '--init-file'), inline: set('-c') };

/** The argument rules of an interpreter or shell executable; undefined for any other program. */
export function classify(exe: string): { kind: 'interpreter' | 'shell'; rules: ArgRules } | undefined {
  const name = basename(exe).replace(/ \(deleted\)$/, '');
  if (SHELLS.test(name)) return { kind: 'shell', rules: SHELL_RULES };
  for (const [pattern, rules] of INTERPRETERS) if (pattern.test(name)) return { kind: 'interpreter', rules };
  return undefined;
}

/**
 * The script an interpreter runs, from its argv: the first argument that is
 * not an option (or an option's value). Inline code is named by its flag, a
 * module by `-m name`; none (a REPL, `sh` reading stdin) is null.
 */
export function scriptOf(argv: readonly string[], rules: ArgRules, cwd: string | null): string | null {
  let subcommandSeen = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return resolveScript(argv[i + 1], cwd);
    if (rules.inline.has(arg)) return arg;
    if (rules.module?.has(arg)) {
      const name = argv[i + 1];
      return name === undefined ? null : arg === '-f' ? resolveScript(name, cwd) : `${arg} ${name}`;
    }
    if (rules.subcommands !== undefined && !subcommandSeen && rules.subcommands.has(arg)) {
      subcommandSeen = true;
      continue;
    }
    if (rules.takesValue.has(arg)) {
      i += 1;
      continue;
    }
    // Attached short forms (-c'code', -mpkg) and long --opt=value.
    if (arg.startsWith('-') || arg.startsWith('+')) {
      const flag = arg.slice(0, 2);
      if (!arg.startsWith('--') && arg.length > 2 && rules.inline.has(flag)) return flag;
      if (!arg.startsWith('--') && arg.length > 2 && rules.module?.has(flag)) return `${flag} ${arg.slice(2)}`;
      continue;
    }
    if (rules.inline.has(arg)) return arg;
    return resolveScript(arg, cwd);
  }
  return null;
}

function resolveScript(arg: string | undefined, cwd: string | null): string | null {
  if (arg === undefined || arg === '') return null;
  const path = isAbsolute(arg) ? arg : cwd === null ? arg : resolve(cwd, arg);
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Views already worked out, per read (cachedReader hands back the same object while the process lives). */
const views = new WeakMap<RawProcess, ProcessView>();

/** One process, as audit and policy name it. */
export function viewOf(raw: RawProcess): ProcessView {
  let view = views.get(raw);
  if (view === undefined) views.set(raw, (view = computeView(raw)));
  return view;
}

function computeView(raw: RawProcess): ProcessView {
  if (raw.state === 'gone') return { pid: raw.pid, kind: 'gone', exe: null, script: null, name: GONE_PROGRAM };
  if (raw.exe === null) return { pid: raw.pid, kind: 'unknown', exe: null, script: null, name: UNKNOWN_PROGRAM };
  const found = classify(raw.exe);
  if (found === undefined) return { pid: raw.pid, kind: 'program', exe: raw.exe, script: null, name: raw.exe };
  const script = raw.argv.length === 0 ? null : scriptOf(raw.argv, found.rules, raw.cwd);
  return { pid: raw.pid, kind: found.kind, exe: raw.exe, script, name: script === null ? raw.exe : `${raw.exe} ${script}` };
}

/** mcpauthd's own command files, by their place in the package (dist or source tree). */
const OWN_COMMAND = /\/client\/cli\/(main|bin)\.(c?js|c?ts)$/;
/** Package runners that start the program a user meant (npx, npm exec, pnpm dlx, yarn dlx). */
const RUNNERS = /\/(npx-cli|npm-cli|pnpm\.c?js|yarn\.c?js)(\.js)?$/;

const ownCommandCache = new Map<string, boolean>();

/** True for mcpauthd's CLI entry files: the path's shape and a package.json named mcpauthd above it. */
export function isOwnCommand(script: string): boolean {
  if (!OWN_COMMAND.test(script)) return false;
  const cached = ownCommandCache.get(script);
  if (cached !== undefined) return cached;
  let dir = dirname(script);
  let own = false;
  for (let depth = 0; depth < 5 && !own; depth++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        own = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'mcpauthd';
      } catch {
        own = false;
      }
    }
    dir = dirname(dir);
  }
  ownCommandCache.set(script, own);
  return own;
}

/** A process that passes the request on for someone else: the caller is its parent. */
function isPassThrough(view: ProcessView): boolean {
  if (view.kind === 'shell') return view.script === null || view.script === '-c';
  if (view.kind === 'interpreter' && view.script !== null) return isOwnCommand(view.script) || RUNNERS.test(view.script);
  return false;
}

/** How many processes' views a cache keeps (parents: shells, terminals, MCP clients live long). */
const CACHE_SIZE = 256;

/**
 * `read`, remembering each process it read: a process asked about again is
 * re-read only when its identity (start time) changed, i.e. the pid now
 * belongs to another process. Saves the /proc reads of long-lived parents on
 * every connection (about 0.8 ms for a chain of five, measured here). Without
 * an identity reader (macOS) nothing is cached.
 */
export function cachedReader(read: ProcessReader, identity: IdentityReader | undefined): ProcessReader {
  if (identity === undefined) return read;
  const cache = new Map<number, RawProcess>();
  return (pid) => {
    const known = cache.get(pid);
    if (known !== undefined && known.identity !== null && identity(pid) === known.identity) return known;
    const fresh = read(pid);
    if (cache.size >= CACHE_SIZE) cache.clear();
    if (fresh.state !== 'gone' && fresh.identity !== null) cache.set(pid, fresh);
    else cache.delete(pid);
    return fresh;
  };
}

/**
 * The caller behind peer pid `pid`: the chain (the peer, then parents up to
 * the first neither interpreter nor shell) and the program it is attributed to.
 */
export function describeCaller(pid: number | undefined, read: ProcessReader): Caller {
  if (pid === undefined || pid <= 0) return { pid: null, program: UNKNOWN_PROGRAM, programPid: null, chain: [] };
  const chain: ProcessView[] = [];
  let program: ProcessView | undefined;
  let next: number | null = pid;
  const seen = new Set<number>();
  while (next !== null && next > 0 && !seen.has(next) && chain.length <= MAX_PARENTS) {
    seen.add(next);
    const raw = read(next);
    const view = viewOf(raw);
    chain.push(view);
    if (program === undefined && !isPassThrough(view)) program = view;
    // Interpreters and shells are followed up; a program (or a process we cannot read) ends the chain.
    if (program !== undefined && view.kind !== 'interpreter' && view.kind !== 'shell') break;
    next = raw.ppid;
  }
  program ??= chain.at(-1);
  return { pid, program: program?.name ?? UNKNOWN_PROGRAM, programPid: program?.pid ?? null, chain };
}
