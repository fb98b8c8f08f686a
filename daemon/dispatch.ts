/**
 * Request type → handler. Exhaustive: a method added to shared/protocol.ts
 * without a handler here does not compile. Knows requests, not sockets.
 */
import { assertNever } from '../shared/assert.js';
import type { Methods, Request } from '../shared/protocol.js';
import type { EncodedResult } from './encoded-result.js';
import type { RequestContext } from './socket-server.js';

/** A handler answers with its method's result, or that result already as JSON (the hot path). */
export type Handlers = {
  [M in keyof Methods]: (params: Methods[M]['params'], ctx: RequestContext) => Promise<Methods[M]['result'] | EncodedResult<Methods[M]['result']>>;
};

export function dispatch(request: Request, handlers: Handlers, ctx: RequestContext): Promise<unknown> {
  switch (request.method) {
    case 'hello':
      return handlers.hello(request.params, ctx);
    case 'status':
      return handlers.status(request.params, ctx);
    case 'token.get':
      return handlers['token.get'](request.params, ctx);
    case 'credential.delete':
      return handlers['credential.delete'](request.params, ctx);
    case 'login':
      return handlers.login(request.params, ctx);
    case 'login.callback':
      return handlers['login.callback'](request.params, ctx);
    case 'credential.refresh':
      return handlers['credential.refresh'](request.params, ctx);
    case 'subscribe':
      return handlers.subscribe(request.params, ctx);
    case 'log.level':
      return handlers['log.level'](request.params, ctx);
    default:
      return assertNever(request);
  }
}
