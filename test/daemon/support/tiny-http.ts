// A tiny node:http server on 127.0.0.1 for faults a real server cannot show
// (oversized or non-JSON bodies, wrong issuers, hanging responses). Handlers
// are plain functions; every request is recorded in arrival order.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TinyRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type TinyHandler = (req: TinyRequest, res: http.ServerResponse, server: TinyServer) => void | Promise<void>;

export interface TinyServer {
  readonly origin: string;
  readonly requests: TinyRequest[];
  /** Routes by exact path; unknown paths answer 404. */
  route(path: string, handler: TinyHandler): void;
  paths(): string[];
  stop(): Promise<void>;
}

export function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startTinyServer(routes: Record<string, TinyHandler> = {}): Promise<TinyServer> {
  const table = new Map<string, TinyHandler>(Object.entries(routes));
  const requests: TinyRequest[] = [];
  let self: TinyServer | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const record: TinyRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(record);
      const handler = table.get(url.pathname);
      if (handler === undefined || self === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      Promise.resolve(handler(record, res, self)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  self = {
    origin,
    requests,
    route: (path, handler) => {
      table.set(path, handler);
    },
    paths: () => requests.map((r) => r.path),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return self;
}
