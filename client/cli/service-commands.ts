/**
 * `mcpauthd install-service`, `doctor` and `log-level`: the commands that look
 * at this machine's set-up. Loaded only when one of them runs. `cliPath` is
 * main.ts's own resolved path, what a service unit must run.
 */
import { resolvePaths, type Paths } from '../../shared/paths.js';
import { EXIT, UsageError, onePositional, str } from './cli-core.js';

type Values = Record<string, string | boolean | undefined>;

function pathsFrom(values: Values): Paths {
  return resolvePaths({ home: str(values['home']), socket: str(values['socket']) });
}

export async function runInstallService(values: Values, cliPath: string): Promise<number> {
  if (values['print'] === true && values['uninstall'] === true) throw new UsageError('use either --print or --uninstall');
  const { installService, localServiceContext, serviceDefinition, uninstallService } = await import('./install-service.js');
  const ctx = localServiceContext({ paths: pathsFrom(values), cliPath, say: (line) => process.stdout.write(`${line}\n`) });
  if (values['print'] === true) {
    process.stdout.write(serviceDefinition(ctx).text);
    return EXIT.ok;
  }
  return (values['uninstall'] === true ? uninstallService(ctx) : installService(ctx)).ok ? EXIT.ok : EXIT.error;
}

export async function runDoctorCommand(values: Values, cliPath: string): Promise<number> {
  const paths = pathsFrom(values);
  const [{ formatDoctorReport, runDoctor }, { localServiceContext }, { shouldUseColor }] = await Promise.all([
    import('./doctor.js'),
    import('./install-service.js'),
    import('./terminal-color.js'),
  ]);
  const report = await runDoctor({ paths, service: localServiceContext({ paths, cliPath, say: () => undefined }) });
  process.stdout.write(
    values['json'] === true ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report, shouldUseColor(process.stdout, process.env)),
  );
  return report.ok ? EXIT.ok : EXIT.error;
}

export async function runLogLevel(values: Values, positionals: string[]): Promise<number> {
  const target = onePositional(positionals, 'level');
  const { parseLevel, setDaemonLogLevel } = await import('./log-level.js');
  const level = parseLevel(target);
  const result = await setDaemonLogLevel(pathsFrom(values).socketCandidates, level);
  process.stdout.write(`log level ${result.level} (was ${result.previous})\n`);
  return EXIT.ok;
}
