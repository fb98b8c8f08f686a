/**
 * The command-line parser every `mcpauthd` command uses (client/cli/args.ts),
 * held to node:util parseArgs (strict, positionals allowed), which it
 * replaced for start-up time: the same values and positionals for what both
 * accept, an error for what parseArgs refuses, and messages that say what to
 * write instead.
 */
import { describe, expect, it } from '@jest/globals';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ArgsError, parseCommandArgs, type Options } from '../../client/cli/args.js';
import { COMMON, HOT_COMMANDS } from '../../client/cli/cli-core.js';

const OPTIONS: Options = { ...COMMON, scope: { type: 'string' }, 'min-ttl': { type: 'string' }, json: { type: 'boolean' }, resource: { type: 'boolean' } };

/** parseArgs's answer, as plain data (it returns a null-prototype object). */
function reference(args: string[], options: Options): { values: Record<string, string | boolean | undefined>; positionals: string[] } | 'error' {
  try {
    const r = parseArgs({ args, options: options as ParseArgsConfig['options'], allowPositionals: true, strict: true });
    return { values: { ...r.values }, positionals: r.positionals };
  } catch {
    return 'error';
  }
}

function ours(args: string[], options: Options): { values: Record<string, string | boolean | undefined>; positionals: string[] } | 'error' {
  try {
    return parseCommandArgs(args, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ArgsError);
    return 'error';
  }
}

describe('parseCommandArgs()', () => {
  const cases: string[][] = [
    [],
    ['https://a.example/mcp'],
    ['https://a.example/mcp', '--json'],
    ['--json', 'https://a.example/mcp'],
    ['--scope', 'a b', 'https://a.example/mcp'],
    ['--scope=a b', 'https://a.example/mcp'],
    ['--scope=', 'https://a.example/mcp'],
    ['--scope=--x', 'u'],
    ['--scope', 'one', '--scope', 'two', 'u'],
    ['--min-ttl', '60', '--resource', 'u'],
    ['-h'],
    ['--help', 'u'],
    ['--home', '/tmp/h', '--socket', '/tmp/s', 'u'],
    ['--', '--json', '-h'],
    ['u', '--', 'v'],
    ['-'],
    // Refused by both:
    ['--nope'],
    ['-x'],
    ['--json=yes', 'u'],
    ['--scope'],
    ['--scope', '--json', 'u'],
    ['--scope', '-h', 'u'],
  ];

  it('should give what parseArgs gives, values and positionals, or refuse what it refuses', () => {
    for (const args of cases) expect({ args, result: ours(args, OPTIONS) }).toEqual({ args, result: reference(args, OPTIONS) });
  });

  it('should parse every hot command line the way parseArgs does', () => {
    for (const [name, cmd] of Object.entries(HOT_COMMANDS)) {
      for (const args of [['--json'], ['https://a.example/mcp', '--json'], ['--help'], ['--socket', '/s', 'x']]) {
        expect({ name, args, result: ours(args, cmd.options) }).toEqual({ name, args, result: reference(args, cmd.options) });
      }
    }
  });

  it('should say what to write instead', () => {
    const message = (args: string[]): string => {
      try {
        parseCommandArgs(args, OPTIONS);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`${args.join(' ')} was accepted`);
    };
    expect(message(['--nope'])).toBe('unknown option --nope (see --help; a positional argument that starts with "-" goes after --)');
    expect(message(['--json=1'])).toBe('--json takes no value (write --json alone)');
    expect(message(['--scope'])).toBe('--scope needs a value');
    expect(message(['--scope', '--json'])).toBe('--scope needs a value, got the option --json (for a value that starts with "-", write --scope=--json)');
  });

  it('should not take an inherited property for an option', () => {
    expect(() => parseCommandArgs(['--toString'], OPTIONS)).toThrow('unknown option --toString');
    expect(() => parseCommandArgs(['--__proto__'], OPTIONS)).toThrow('unknown option --__proto__');
  });
});
