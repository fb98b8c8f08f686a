import { describe, expect, it } from '@jest/globals';
import { selectScopes } from '../../daemon/oauth/scope-selection.js';
import { unionScopes } from '../../shared/scopes.js';

describe('scope selection', () => {
  it('S1: the challenge scope comes first', () => {
    expect(selectScopes({ challenged: ['mcp:tools'], resourceScopes: ['mcp:tools', 'mcp:admin'] })).toEqual(['mcp:tools']);
  });

  it('S1: else all of PRM scopes_supported', () => {
    expect(selectScopes({ resourceScopes: ['mcp:tools', 'mcp:admin'] })).toEqual(['mcp:tools', 'mcp:admin']);
  });

  it('S1: else no scope at all (empty means omit)', () => {
    expect(selectScopes({})).toEqual([]);
    expect(selectScopes({ serverScopes: ['openid'] })).toEqual([]);
  });

  it('S1: a user-given list overrides every discovered source', () => {
    expect(selectScopes({ requested: ['read'], challenged: ['mcp:tools'], resourceScopes: ['mcp:admin'] })).toEqual(['read']);
  });

  it('S2: a new login adds to what the credential was granted, without duplicates', () => {
    expect(selectScopes({ challenged: ['mcp:admin'], granted: ['mcp:tools', 'mcp:admin'] })).toEqual(['mcp:admin', 'mcp:tools']);
    expect(unionScopes(['a', 'b'], undefined, ['b', 'c', ''])).toEqual(['a', 'b', 'c']);
  });

  it('S3: adds offline_access only when the AS lists it', () => {
    expect(selectScopes({ challenged: ['mcp:tools'], serverScopes: ['openid', 'offline_access'] })).toEqual(['mcp:tools', 'offline_access']);
    expect(selectScopes({ challenged: ['mcp:tools'], serverScopes: ['openid'] })).toEqual(['mcp:tools']);
    expect(selectScopes({ challenged: ['mcp:tools'] })).toEqual(['mcp:tools']);
  });

  it('S3: drops a formerly granted offline_access the AS no longer lists, keeps an explicitly requested one', () => {
    expect(selectScopes({ challenged: ['mcp:tools'], granted: ['offline_access'], serverScopes: [] })).toEqual(['mcp:tools']);
    expect(selectScopes({ requested: ['offline_access'], serverScopes: [] })).toEqual(['offline_access']);
  });
});
