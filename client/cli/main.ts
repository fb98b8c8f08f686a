#!/usr/bin/env node
/**
 * The `mcpauthd` command: argv → client API → stdout and an exit status.
 * Commands that only talk to the daemon load no OAuth or database code; the
 * daemon itself is imported only by `mcpauthd daemon`, and each command's
 * module (login-command.ts, credential-commands.ts, proxy-command.ts,
 * service-commands.ts) only by that command. This file holds the argv →
 * command table, the top-level help and exit codes; each command's help text
 * and options live in commands/ (daemon.ts, login.ts, credentials.ts) and
 * cli-core.ts (`token`, `status`).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AuthdError } from '../../shared/errors.js';
// Everything else is imported inside the command that uses it: start-up time
// is what a `token` call in a shell pipeline or a headers helper pays for on
// every use (docs/benchmarks.md), and --version and --help need none of it.
// `token` and `status` live in cli-core.ts, which client/cli/bin.cts also loads as CommonJS.
import { EXIT, HOT_COMMANDS, commandHelp, runCommand, type Command } from './cli-core.js';
import { daemonCommands } from './commands/daemon.js';
import { LOGIN_COMMANDS } from './commands/login.js';
import { CREDENTIAL_COMMANDS } from './commands/credentials.js';

export { EXIT } from './cli-core.js';

const DAEMON_COMMANDS = daemonCommands(cliPath);

/** Every command, in the order `mcpauthd --help` lists them. */
const COMMANDS: Record<string, Command> = {
  daemon: DAEMON_COMMANDS.daemon,
  status: HOT_COMMANDS.status,
  token: HOT_COMMANDS.token,
  refresh: CREDENTIAL_COMMANDS.refresh,
  logout: CREDENTIAL_COMMANDS.logout,
  login: LOGIN_COMMANDS.login,
  idp: LOGIN_COMMANDS.idp,
  proxy: CREDENTIAL_COMMANDS.proxy,
  audit: CREDENTIAL_COMMANDS.audit,
  policy: CREDENTIAL_COMMANDS.policy,
  'install-service': DAEMON_COMMANDS['install-service'],
  doctor: DAEMON_COMMANDS.doctor,
  'log-level': DAEMON_COMMANDS['log-level'],
};

function usageText(VERSION: string): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, cmd]) => `  ${name.padEnd(width)}  ${cmd.summary}`);
  return `mcpauthd ${VERSION}: one place for every MCP OAuth credential on this machine

Usage: mcpauthd <command> [options]

Commands:
${lines.join('\n')}

Run "mcpauthd <command> --help" for a command's options.

Exit status: 0 success, 1 error, 2 usage, 3 daemon not reachable, 4 a login is needed.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const { VERSION } = await import('../../shared/version.js');
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic === undefined ? undefined : COMMANDS[topic];
    process.stdout.write(cmd === undefined ? usageText(VERSION) : commandHelp(topic as string, cmd));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    const { VERSION } = await import('../../shared/version.js');
    process.stdout.write(`mcpauthd ${VERSION}\n`);
    return EXIT.ok;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (cmd === undefined) {
    const { VERSION } = await import('../../shared/version.js');
    process.stderr.write(`mcpauthd: unknown command "${name}"\n\n${usageText(VERSION)}`);
    return EXIT.usage;
  }
  return runCommand(name, cmd, rest);
}

/** This file, symlinks resolved: what a service unit must run (npm's bin link may move). */
function cliPath(): string {
  return realpathSync(fileURLToPath(import.meta.url));
}

// Run when executed as a program (`node dist/client/cli/main.js`, the service
// unit), not when imported by tests or by client/bin.cts, which calls main().
function invokedAsProgram(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === cliPath();
  } catch {
    return false;
  }
}
if (invokedAsProgram()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`mcpauthd: ${err instanceof AuthdError ? err.message : String(err)}\n`);
      process.exitCode = EXIT.error;
    },
  );
}
