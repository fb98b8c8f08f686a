/** A complete login result for planting credentials in store tests; fake tokens. */
import { Secret } from '../../daemon/store/secret.js';
import type { NewCredential } from '../../daemon/store/token-store.js';

export function newCredential(overrides: Partial<NewCredential> = {}): NewCredential {
  return {
    resource: 'https://mcp.example.com/mcp',
    serverUrl: 'https://mcp.example.com/mcp',
    issuer: 'https://as.example.com',
    clientId: 'client-1',
    scopes: ['mcp:tools'],
    accessToken: new Secret('at-1'),
    tokenType: 'Bearer',
    expiresAt: 2_000_000,
    refreshToken: new Secret('rt-1'),
    refreshAt: 1_500_000,
    ...overrides,
  };
}
