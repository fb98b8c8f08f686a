import { describe, expect, it } from '@jest/globals';
import { unionScopes } from '../../shared/scopes.js';

describe('unionScopes()', () => {
  it('S2: keeps first-seen order and drops duplicates', () => {
    expect(unionScopes(['mcp:tools', 'mcp:admin'], ['mcp:admin', 'mcp:write'])).toEqual(['mcp:tools', 'mcp:admin', 'mcp:write']);
    expect(unionScopes(['a', 'b'], undefined, ['b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(unionScopes()).toEqual([]);
  });

  // The client's step-up copy kept them: a login asked for scope "a  b".
  it('S2: drops empty strings (the client step-up kept them)', () => {
    expect(unionScopes(['a', ''], ['', 'b'])).toEqual(['a', 'b']);
  });
});
