/**
 * The client's view of the owner-only paths the daemon insists on (state
 * directory, database, socket directory): the same rule the daemon enforces
 * at start-up (shared/owner-only.ts), reported as a finding with its fix
 * instead of an error, so `mcpauthd doctor` can list every problem at once
 * without loading daemon code.
 */
import { lstatOrNull, modeString, ownerOnlyProblem, type OwnerOnlyKind } from '../../shared/owner-only.js';

export type PathFinding =
  | { state: 'ok'; mode: string }
  | { state: 'missing' }
  | { state: 'problem'; problem: string; fix: string };

export function checkPrivatePath(path: string, kind: OwnerOnlyKind): PathFinding {
  let stats;
  try {
    stats = lstatOrNull(path);
  } catch (err) {
    return { state: 'problem', problem: `cannot inspect ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, fix: `check the permissions of its parent directories` };
  }
  if (stats === null) return { state: 'missing' };
  const found = ownerOnlyProblem(path, stats, kind);
  return found === null ? { state: 'ok', mode: modeString(stats) } : { state: 'problem', ...found };
}
