/**
 * Request/response over a forked child's IPC channel, so the orchestrator can
 * drive a load client or a daemon host that lives in another process.
 */
import { fork, type ChildProcess } from 'node:child_process';

interface RpcRequest {
  rpc: number;
  cmd: string;
  args: unknown;
}

interface RpcReply {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

function isRequest(msg: unknown): msg is RpcRequest {
  return typeof msg === 'object' && msg !== null && typeof (msg as RpcRequest).rpc === 'number' && typeof (msg as RpcRequest).cmd === 'string';
}

export type Handlers = Record<string, (args: never) => unknown>;

/** Child side: answer each command with its handler's (awaited) result. */
export function serveRpc(handlers: Handlers): void {
  if (process.send === undefined) throw new Error('this module must be started with child_process.fork');
  process.on('message', (msg: unknown) => {
    if (!isRequest(msg)) return;
    const handler = handlers[msg.cmd];
    const reply = (r: Omit<RpcReply, 'rpc'>) => process.send?.({ rpc: msg.rpc, ...r });
    if (handler === undefined) {
      reply({ ok: false, error: `unknown command ${msg.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(msg.args as never))
      .then(
        (result) => reply({ ok: true, result }),
        (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // The parent going away ends this process.
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}

export class RpcChild {
  readonly child: ChildProcess;
  #next = 1;
  readonly #waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #stderr = '';
  readonly exited: Promise<number | null>;
  /** Resolves once the child serves commands (serveRpc was called). */
  readonly ready: Promise<void>;

  constructor(modulePath: string, args: string[] = [], execArgv: string[] = []) {
    this.child = fork(modulePath, args, { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
    this.child.stdout?.resume();
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-8000);
    });
    let markReady: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => (markReady = resolve));
    this.child.on('message', (msg: unknown) => {
      if ((msg as { ready?: unknown } | null)?.ready === true) markReady();
      const reply = msg as RpcReply;
      if (typeof reply?.rpc !== 'number') return;
      const waiting = this.#waiting.get(reply.rpc);
      if (waiting === undefined) return;
      this.#waiting.delete(reply.rpc);
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(new Error(`${modulePath}: ${reply.error ?? 'failed'}`));
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        for (const w of this.#waiting.values()) w.reject(new Error(`${modulePath} exited with ${code}: ${this.#stderr}`));
        this.#waiting.clear();
        resolve(code);
      }),
    );
  }

  /** Resolves once the child serves commands; rejects if it dies first. */
  async whenReady(): Promise<void> {
    await Promise.race([
      this.ready,
      this.exited.then((code) => {
        throw new Error(`${this.child.spawnfile} child exited with ${code} before it was ready: ${this.#stderr}`);
      }),
    ]);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  stderr(): string {
    return this.#stderr;
  }

  call<T>(cmd: string, args: unknown = {}): Promise<T> {
    const rpc = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ rpc, cmd, args } satisfies RpcRequest);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
