/**
 * The wire protocol's audit and policy vocabulary (issue 18): what
 * `audit.list` returns and what `policy.*` set and show.
 * Types only, no code.
 */
import type { CredentialRef } from './credential-types.js';

/** What the audit trail records of one request (issue 18); never a token or anything derived from one. */
export interface AuditEvent {
  /** Unix milliseconds. */
  at: number;
  /** token.get, dpop.proof, login, refresh, logout, or another method that was refused. */
  method: string;
  /** The credential's resource, or what the request named when no credential matched; null when none applies. */
  resource: string | null;
  /** The program the request is attributed to (policy matches this name). */
  program: string;
  /** The connecting process's pid; null when unknown (the scheduler's own refreshes, no peer pid). */
  pid: number | null;
  /** The peer and its parents, nearest first, as program names. */
  chain: string[];
  outcome: 'ok' | 'error' | 'denied';
  /** The wire error code when the outcome is not ok. */
  error_code: string | null;
  /** A refresh's trigger (scheduled, min_ttl, expired, forced); null otherwise. */
  detail: string | null;
  /** How many identical requests (same program, pid, method, resource, outcome) this event stands for: they came between `at` and `last_at` (Unix ms). */
  count: number;
  last_at: number;
}

export interface AuditListParams {
  /** A resource or an MCP server URL: only events of that credential. */
  resource?: string;
  /** Only events attributed to this program (exact name). */
  program?: string;
  /** Unix seconds: only events at or after. */
  since?: number;
  /** Newest first, at most this many (default 200, at most 2000). */
  limit?: number;
}

export interface AuditListResult {
  events: AuditEvent[];
  /** More events matched than `limit`. */
  truncated: boolean;
}

export type PolicyMode = 'allow' | 'confirm' | 'deny';

export interface ProgramApproval {
  program: string;
  /** Unix seconds; null until revoked. */
  expires_at: number | null;
  /** `cli` (policy allow) or `prompt` (approved when asked). */
  source: 'cli' | 'prompt';
  created_at: number;
}

export interface ResourcePolicy {
  resource: string;
  mode: PolicyMode;
  approvals: ProgramApproval[];
}

export interface PolicyShowResult {
  /** Resources without a row here are `allow` (the default). */
  policies: ResourcePolicy[];
}

export interface PolicySetParams extends CredentialRef {
  mode: PolicyMode;
}

export interface PolicyAllowParams extends CredentialRef {
  program: string;
  /** Seconds the approval lasts; absent = until revoked. */
  for?: number;
}

export interface PolicyRevokeParams extends CredentialRef {
  program: string;
}
