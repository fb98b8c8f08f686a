/**
 * What every step of one login attempt shares (login-flow.ts, client-choice.ts,
 * device-login.ts). Types only.
 */
import type { LoginParams, LoginProgress } from '../../shared/protocol/login-types.js';
import type { HttpPolicy } from '../oauth/http-fetch.js';
import type { Logger } from '../os/logger.js';
import type { TokenStore } from '../store/token-store.js';
import type { LoginRegistry } from './login-registry.js';

export interface LoginContext {
  loginId: string;
  logins: LoginRegistry;
  params: LoginParams;
  store: TokenStore;
  log: Logger;
  http: HttpPolicy;
  now: () => number;
  signal: AbortSignal | undefined;
  onProgress: (progress: LoginProgress) => void;
  /** Waits between device-grant polls (tests pass one that does not really wait). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What an attempt got to before it failed, to decide whether one more is worth it. */
export interface AttemptFacts {
  metadataFromCache: boolean;
  userInvolved: boolean;
}
