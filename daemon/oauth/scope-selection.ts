/**
 * Which `scope` to ask for (checklist S1-S3). Pure: the inputs come from the
 * user, the 401 challenge, the metadata and the stored credential.
 */
import { unionScopes } from '../../shared/scopes.js';

export const OFFLINE_ACCESS = 'offline_access';

export interface ScopeInputs {
  /** The user's explicit list; overrides every discovered source (S1). */
  requested?: readonly string[];
  /** `scope` of the Bearer challenge (S1). */
  challenged?: readonly string[];
  /** PRM `scopes_supported` (S1). */
  resourceScopes?: readonly string[];
  /** AS metadata `scopes_supported`: decides `offline_access` (S3). */
  serverScopes?: readonly string[];
  /** Scopes a credential for this resource already holds (S2 step-up). */
  granted?: readonly string[];
}

/**
 * S1: the user's list, else the challenge's, else all of PRM
 * `scopes_supported`, else nothing. S2: plus what the existing credential was
 * granted, so a new login never narrows it. S3: plus `offline_access` only
 * when the AS lists it.
 * @returns the scopes to request; empty means "omit `scope`".
 */
export function selectScopes(inputs: ScopeInputs): string[] {
  const base = inputs.requested ?? inputs.challenged ?? inputs.resourceScopes ?? [];
  const offline = inputs.serverScopes?.includes(OFFLINE_ACCESS) === true ? [OFFLINE_ACCESS] : [];
  const selected = unionScopes(base, inputs.granted, offline);
  // An offline_access granted earlier by an AS that no longer lists it is not asked for again.
  return offline.length === 0 ? selected.filter((s) => s !== OFFLINE_ACCESS || base.includes(OFFLINE_ACCESS)) : selected;
}
