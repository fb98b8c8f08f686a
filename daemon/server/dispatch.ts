/**
 * Request type → handler. Exhaustive: a method added to shared/protocol/types.ts
 * without a handler does not compile (Handlers names every method, and the
 * daemon builds one). Knows requests, not sockets.
 */
import type { MethodName, Methods, RequestId } from '../../shared/protocol/types.js';
import type { EncodedResult } from './encoded-result.js';
import type { RequestContext } from './socket-server.js';

/** A handler answers with its method's result, or that result already as JSON (the hot path). */
export type Handlers = {
  [M in keyof Methods]: (params: Methods[M]['params'], ctx: RequestContext) => Promise<Methods[M]['result'] | EncodedResult<Methods[M]['result']>>;
};

/**
 * A request of one of the methods M. Written as a mapped type indexed by M
 * (not a plain union) so TypeScript ties `method` and `params` together and
 * checks the handler call below without a switch per method.
 */
type RequestOf<M extends MethodName> = { [K in M]: { v: number; id: RequestId; method: K; params: Methods[K]['params'] } }[M];

export function dispatch<M extends MethodName>(request: RequestOf<M>, handlers: Handlers, ctx: RequestContext): Promise<unknown> {
  const handler: Handlers[M] = handlers[request.method];
  return handler(request.params, ctx);
}
