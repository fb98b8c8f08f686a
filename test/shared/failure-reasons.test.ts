/**
 * data.reason is one closed list (FailureReason, shared/protocol/types.ts) and
 * docs/protocol.md documents exactly that list: a reason added in one place
 * and not the other fails here.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { FAILURE_REASONS } from '../../shared/protocol/types.js';

function documentedReasons(): string[] {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### `data.reason`'));
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string));
}

describe('FailureReason', () => {
  it('should have no duplicates', () => {
    expect(new Set(FAILURE_REASONS).size).toBe(FAILURE_REASONS.length);
  });

  it('should be documented in docs/protocol.md, exactly', () => {
    const documented = documentedReasons();
    expect(documented.length).toBeGreaterThan(0);
    expect([...documented].sort()).toEqual([...FAILURE_REASONS].sort());
  });
});
