/**
 * One line of `mcpauthd doctor`: the shape every check module returns, kept
 * apart from doctor.ts so that the checks it runs need not import it back.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  /** Stable identifier, for scripts: node, state_directory, database, socket_directory, daemon, version, core_dumps, encryption, service, login_callback, clock, credential, authorization_server. */
  id: string;
  /** What the check is about when there are several of a kind (the resource, the issuer). */
  subject?: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}
