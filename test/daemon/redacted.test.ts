/**
 * Redacted (daemon/secret.ts): the one way Secret and EncodedResult print.
 * Every path a value takes into a log line, an error or a reply must show
 * `[redacted]`, never the token inside (invariant 3).
 */
import { describe, expect, it } from '@jest/globals';
import { format, inspect } from 'node:util';
import { EncodedResult } from '../../daemon/server/encoded-result.js';
import { REDACTED, Redacted, Secret } from '../../daemon/store/secret.js';

const TOKEN = 'at-never-printed-7f3a9c';

const holders: Array<[string, () => Redacted]> = [
  ['Secret', () => new Secret(TOKEN)],
  ['EncodedResult', () => new EncodedResult<{ access_token: string }>(JSON.stringify({ access_token: TOKEN }))],
];

describe.each(holders)('%s', (_name, make) => {
  it('should print as [redacted] through String, templates, JSON, inspect and format', () => {
    const value = make();
    const printed = [
      String(value),
      `${value}`,
      '' + value, // eslint-disable-line prefer-template
      JSON.stringify(value),
      JSON.stringify({ nested: { value } }),
      inspect(value),
      inspect({ nested: [value] }, { depth: 10 }),
      format('%s %o %O %j', value, value, value, value),
    ];
    for (const text of printed) {
      expect(text).not.toContain(TOKEN);
      expect(text).toContain(REDACTED);
    }
  });

  // EncodedResult kept its JSON in a public property: a spread, Object.entries,
  // structuredClone or inspect without custom inspectors carried the token out.
  it('should carry the token in no own property (EncodedResult did)', () => {
    const value = make();
    const walked = [
      JSON.stringify(Object.entries(value)),
      JSON.stringify({ ...value }),
      inspect(value, { customInspect: false, showHidden: true }),
      inspect(structuredClone(value), { customInspect: false }),
    ];
    for (const text of walked) expect(text).not.toContain(TOKEN);
  });
});

describe('the secret is still there for the code that needs it', () => {
  it('should give the value through reveal() and the JSON through .json', () => {
    expect(new Secret(TOKEN).reveal()).toBe(TOKEN);
    expect(JSON.parse(new EncodedResult<{ access_token: string }>(JSON.stringify({ access_token: TOKEN })).json)).toEqual({ access_token: TOKEN });
  });
});
