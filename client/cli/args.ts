/**
 * The command line of one `mcpauthd` command: `--name value`, `--name=value`,
 * boolean `--flag`, one-letter `-h`, and `--` before positionals that start
 * with a dash. Strict: an unknown option, a missing value or a value given to
 * a flag is a usage error that says what to write instead.
 *
 * Why not node:util parseArgs: it is loaded on first use, and that first call
 * cost about 0.9 ms of a ~60 ms `mcpauthd token`, which headers helpers run
 * per request (docs/benchmarks.md, issue 14). The subset every command here
 * uses fits in this file; test/cli/args.test.ts holds it to parseArgs's
 * results for the inputs both accept.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** A one-letter alias (`-h`). */
  short?: string;
}

export type Options = Readonly<Record<string, OptionSpec>>;

export interface ParsedArgs {
  /** What was given, by long name; a string option given twice keeps the last value. */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export class ArgsError extends Error {
  readonly code = 'USAGE';
}

/** Parses `args` against `options`; throws ArgsError with a message for the user. */
export function parseCommandArgs(args: readonly string[], options: Options): ParsedArgs {
  const values: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      // `-` alone is a positional (stdin, by convention), as is anything without a dash.
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      i = shortOptions(arg, args, i, options, values);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = Object.hasOwn(options, name) ? options[name] : undefined;
    if (spec === undefined) throw unknown(`--${name}`);
    if (spec.type === 'boolean') {
      if (eq !== -1) throw new ArgsError(`--${name} takes no value (write --${name} alone)`);
      values[name] = true;
    } else if (eq !== -1) {
      values[name] = arg.slice(eq + 1);
    } else {
      values[name] = valueAfter(`--${name}`, args, i, `--${name}=`);
      i += 1;
    }
  }
  return { values, positionals };
}

/** `-h`, or a group of one-letter flags (`-hv`); a string option must be the group's last letter. Returns the index of the last argument used. */
function shortOptions(arg: string, args: readonly string[], i: number, options: Options, values: ParsedArgs['values']): number {
  for (let k = 1; k < arg.length; k++) {
    const letter = arg[k] as string;
    const name = Object.keys(options).find((key) => options[key]?.short === letter);
    if (name === undefined) throw unknown(`-${letter}`);
    if ((options[name] as OptionSpec).type === 'boolean') {
      values[name] = true;
      continue;
    }
    if (k < arg.length - 1) {
      values[name] = arg.slice(k + 1);
      return i;
    }
    values[name] = valueAfter(`-${letter}`, args, i, `-${letter}`);
    return i + 1;
  }
  return i;
}

/** The value after `flag` at args[i]; `attach` is how the user writes one attached (`--scope=`, `-s`). */
function valueAfter(flag: string, args: readonly string[], i: number, attach: string): string {
  const next = args[i + 1];
  if (next === undefined) throw new ArgsError(`${flag} needs a value`);
  // Most likely a forgotten value followed by the next option; a value that
  // really starts with a dash can still be given, attached.
  if (next.startsWith('-') && next !== '-') throw new ArgsError(`${flag} needs a value, got the option ${next} (for a value that starts with "-", write ${attach}${next})`);
  return next;
}

function unknown(flag: string): ArgsError {
  return new ArgsError(`unknown option ${flag} (see --help; a positional argument that starts with "-" goes after --)`);
}
