// node-ipc 14.0.0 ships no types. This declares only what daemon/socket-server.ts uses.
declare module 'node-ipc' {
  import type { Socket, Server as NetServer } from 'node:net';

  export interface IpcConfig {
    id: string;
    appspace: string;
    socketRoot: string;
    parser: 'raw' | 'fast' | 'guarded' | 'assured';
    allowedEvents: readonly string[] | Set<string> | false;
    maxConnections: number;
    maxMessageSize: number;
    maxPendingBytes: number;
    maxEventNameLength: number;
    messageTimeout: number;
    secureSocketRoot: boolean;
    unlink: boolean;
    silent: boolean;
    logPayloads: boolean;
    readableAll: boolean;
    writableAll: boolean;
    maxRetries: number;
    retry: number;
  }

  export interface IpcProtocolError extends Error {
    code?: string;
  }

  export interface IpcServer {
    /** The node:net server, once started. */
    server: NetServer | false;
    sockets: Socket[];
    start(): void;
    stop(): void;
    emit(socket: Socket, type: string, data: unknown): boolean;
    /**
     * Writes an already encoded frame through the same writer emit() uses (for
     * guarded/assured parsers: the maxPendingBytes back-pressure cap). No
     * framing or validation of its own.
     */
    write(socket: Socket, message: string | Buffer): boolean;
    on(event: 'start', handler: (server: NetServer) => void): IpcServer;
    on(event: 'connect', handler: (socket: Socket) => void): IpcServer;
    on(event: 'socket.disconnected', handler: (socket: Socket, id: string | false) => void): IpcServer;
    on(event: 'error', handler: (err: IpcProtocolError) => void): IpcServer;
    on(event: string, handler: (data: unknown, socket: Socket) => void): IpcServer;
    off(event: string, handler?: unknown): IpcServer;
  }

  export class IPCModule {
    config: IpcConfig;
    server: IpcServer | false;
    serve(path: string, callback?: () => void): void;
  }

  const ipc: IPCModule;
  export default ipc;
}
