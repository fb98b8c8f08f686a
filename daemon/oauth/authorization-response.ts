/**
 * The checks on an authorization response (checklist A2, A3) and the pages
 * the loopback listener answers with. Shared by the browser callback and a
 * redirect URL the user pastes (`login.callback`).
 */
import { AuthdError } from '../../shared/errors.js';
import type { FailureReason } from '../../shared/protocol/types.js';
import { serverText } from './http-fetch.js';
import { Secret } from '../store/secret.js';

export interface CallbackExpectations {
  state: string;
  /** The AS metadata issuer (RFC 9207 compares it exactly). */
  issuer: string;
  /** The AS advertises `authorization_response_iss_parameter_supported`. */
  issRequired: boolean;
  /** Where the single-use start URL redirects to; the browser is opened at that start URL. */
  authorizationUrl?: string;
}

/** A successful authorization response. */
export interface AuthorizationResponse {
  code: Secret;
  state: string;
  iss: string | undefined;
}

/**
 * Reasons that say "this answer is not for this login" (forged, mistaken, or
 * for another authorization server): refused, and the login keeps waiting.
 * Every other failure comes with this login's state and decides it.
 */
export const NOT_FOR_THIS_LOGIN: ReadonlySet<string> = new Set(['state_mismatch', 'iss_mismatch']);

export function rejected(message: string, reason: FailureReason, data: Record<string, unknown> = {}): AuthdError {
  return new AuthdError('OAUTH_FAILED', message, { data: { reason, ...data } });
}

/**
 * Checks the query of a callback against what the login expects.
 * Order: state first (an answer to some other request says nothing about
 * this one), then iss, then error, then code.
 */
export function checkAuthorizationResponse(params: URLSearchParams, expected: CallbackExpectations): AuthorizationResponse {
  const state = params.get('state');
  if (state === null) throw rejected('the callback has no state parameter (A2)', 'state_mismatch');
  if (state !== expected.state) throw rejected('the callback state does not match this login (A2); it belongs to another or a forged request', 'state_mismatch');

  const iss = params.get('iss');
  if (iss === null && expected.issRequired) {
    throw rejected(`the callback has no iss parameter, which ${expected.issuer} promises to send (RFC 9207)`, 'iss_mismatch');
  }
  if (iss !== null && iss !== expected.issuer) {
    throw rejected(
      `the callback iss ${JSON.stringify(serverText(iss, 200))} is not the authorization server ${JSON.stringify(expected.issuer)} (RFC 9207: possible mix-up attack)`,
      'iss_mismatch',
    );
  }

  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    const code = serverText(error, 64);
    throw rejected(
      `the authorization server refused: ${code}${description === null ? '' : ` (${serverText(description, 200)})`}`,
      'authorization_error',
      { error: code },
    );
  }
  const code = params.get('code');
  if (code === null || code === '') throw rejected('the callback has neither a code nor an error', 'invalid_callback');
  return { code: new Secret(code), state, iss: iss ?? undefined };
}

/** Headers of every answer: not cached, not sent on as a referrer, no active content. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'",
  'x-content-type-options': 'nosniff',
} as const;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>mcpauthd: ${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
}
