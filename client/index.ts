/**
 * The public client API of mcpauthd (`import { McpAuthdClient } from 'mcpauthd/client'`).
 * Any new export added here becomes public API.
 *
 * @example
 * ```ts
 * const authd = new McpAuthdClient();
 * const { access_token } = await authd.getToken('https://mcp.example.com/mcp');
 * ```
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization
 */
export { AuthdError, isAuthdError, type ErrorCode } from '../shared/errors.js';
export type { DaemonInfo, StatusResult } from '../shared/protocol/types.js';
export type { CredentialSummary, CredentialUpdated, RefreshResult, TokenGetResult, DpopProofResult } from '../shared/protocol/credential-types.js';
export type { IdpLoginParams, IdpLoginResult, IdpSessionSummary, LoginProgress, LoginResult } from '../shared/protocol/login-types.js';

export { McpAuthdClient, type ClientOptions, type GetTokenOptions, type DpopProofRequest } from './authd-client.js';
export { DpopNonces, isDpopNonceChallenge, requestCredential, withCredential, type RequestCredential } from './dpop-request.js';

// ---------------------------------------------------------------- MCP SDK adapters
// Both import the SDK for types only, so `mcpauthd/client` loads without it.
export { createAuthorizedFetch, DEFAULT_MAX_STEP_UPS, type AuthorizedFetchOptions, type FetchLike } from './mcp-fetch.js';
export { createOAuthClientProvider, McpAuthdOAuthProvider, type OAuthClientProviderOptions } from './mcp-auth-provider.js';
export { createRedirectGuardedFetch } from './redirect-guard.js';
export type { LoginOptions } from './daemon-credential.js';
