/**
 * The `mcpauthd` commands that run the daemon or look after it: `daemon`,
 * `install-service`, `doctor`, `log-level`. Help texts and options only; each
 * command's code is imported when it runs (start-up time, client/cli/main.ts).
 */
import { COMMON, str, type Command } from '../cli-core.js';

export type DaemonCommandName = 'daemon' | 'install-service' | 'doctor' | 'log-level';

/** `cliPath` returns the CLI's own file, symlinks resolved: what a service unit runs and doctor checks. */
export function daemonCommands(cliPath: () => string): Record<DaemonCommandName, Command> {
  return {
    daemon: {
      summary: 'run the daemon in the foreground',
      usage: `mcpauthd daemon [--home DIR] [--socket PATH] [--log-level LEVEL] [--log-format json|text] [--log-file PATH]
               [--audit-days N] [--audit-rows N] [--no-audit] [--allow-no-peer-check]`,
      details: `Runs the credential daemon in the foreground (systemd and launchd supervise it;
it never forks). Logs to stderr (secrets redacted); prints one "mcpauthd ready" line on
stdout once the socket accepts connections. SIGTERM or SIGINT stops it cleanly.
Exits non-zero when it cannot start, so a supervisor's restart policy applies.

  --log-level L    error, warn, info (default) or debug (env MCPAUTHD_LOG_LEVEL);
                   change it later with: mcpauthd log-level L
  --log-format F   json (one object per line) or text (time level message key=value);
                   default text when stderr is a terminal, else json (env MCPAUTHD_LOG_FORMAT).
                   Times in fields are Unix seconds, as in status --json
  --log-file PATH  also log to PATH (0600, rotated at 10 MiB, 5 files kept); its
                   directory must be yours and 0700, e.g. <state dir>/logs/daemon.log
  --audit-days N   keep audit events (mcpauthd audit) N days (default 90)
  --audit-rows N   keep at most the newest N audit events (default 100000)
  --no-audit       record no audit events (policy still applies)
  --allow-no-peer-check
                   start even when the check of who connects (SO_PEERCRED on
                   Linux, getpeereid on macOS) cannot be loaded; without it the
                   daemon refuses, because only the 0700 socket directory would
                   then keep other users out (docs/security.md)

Secrets in the database are encrypted; the key comes from the OS keychain, else
from a key file, MCPAUTHD_CONFIG_DIR/database.key (default ~/.config/mcpauthd,
0600), made at the first start. MCPAUTHD_KEY_PROVIDER=auto|keychain|key_file
picks one for a new database; an encrypted one always uses the provider that
encrypted it. mcpauthd status shows which, mcpauthd doctor what it protects against.`,
      options: { ...COMMON, 'log-level': { type: 'string' }, 'log-format': { type: 'string' }, 'log-file': { type: 'string' }, 'allow-no-peer-check': { type: 'boolean' }, 'audit-days': { type: 'string' }, 'audit-rows': { type: 'string' }, 'no-audit': { type: 'boolean' } },
      async run(values) {
        const { runDaemonCommand } = await import('../../../daemon/main.js');
        return runDaemonCommand({
          home: str(values['home']),
          socket: str(values['socket']),
          logLevel: str(values['log-level']),
          logFormat: str(values['log-format']),
          logFile: str(values['log-file']),
          allowNoPeerCheck: values['allow-no-peer-check'] === true,
          auditDays: str(values['audit-days']),
          auditRows: str(values['audit-rows']),
          noAudit: values['no-audit'] === true,
        });
      },
    },
    'install-service': {
      summary: 'run the daemon as a systemd user service or a LaunchAgent',
      usage: 'mcpauthd install-service [--print | --uninstall] [--home DIR] [--socket PATH]',
      details: `Linux: writes ~/.config/systemd/user/mcpauthd.service (sandboxed, restarted on
failure, no core dumps), then runs systemctl --user daemon-reload and
enable --now; without systemctl it prints those commands. macOS: writes
~/Library/LaunchAgents/io.github.mcpauthd.mcpauthd.plist and bootstraps it into
gui/<uid>. The unit runs this node and this CLI with the state directory,
socket and config directory (MCPAUTHD_CONFIG_DIR: the database key file) pinned,
and MCPAUTHD_KEY_PROVIDER and MCPAUTHD_ASKPASS as they are set now. Running it
again is safe: it updates and restarts only on change.

  --print          write the unit to stdout; change nothing
  --uninstall      stop, disable and remove the service`,
      options: { ...COMMON, print: { type: 'boolean' }, uninstall: { type: 'boolean' } },
      async run(values) {
        return (await import('../service-commands.js')).runInstallService(values, cliPath());
      },
    },
    doctor: {
      summary: "check this machine's mcpauthd set-up and say how to fix problems",
      usage: 'mcpauthd doctor [--json]',
      details: `Checks the Node.js version (warns on one past its end of life or not supported),
the state and socket directories and the database (owner-only), that the
daemon answers and runs this CLI's version, the service (installed, enabled, up
to date), the clock, every credential's state, and that each authorization
server's metadata can be fetched (5 s timeout). Prints the fix for each problem.
Exit status 1 when a check fails; warnings alone exit 0.

  --json           print {"version", "ok", "checks": [{id, subject?, status, message, fix?}]}`,
      options: { ...COMMON, json: { type: 'boolean' } },
      async run(values) {
        return (await import('../service-commands.js')).runDoctorCommand(values, cliPath());
      },
    },
    'log-level': {
      summary: "change the running daemon's log level without a restart",
      usage: 'mcpauthd log-level <error|warn|info|debug>',
      details: `Sets the log level of the running daemon (stderr and --log-file alike) until it
stops; the next start uses --log-level or MCPAUTHD_LOG_LEVEL again.`,
      options: { ...COMMON },
      async run(values, positionals) {
        return (await import('../service-commands.js')).runLogLevel(values, positionals);
      },
    },
  };
}
