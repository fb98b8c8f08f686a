/**
 * What `mcpauthd login` prints for a person approving elsewhere (issue 16):
 * the device login's code and where to enter it, and the SSH line that
 * forwards a fixed callback port from the machine with the browser.
 */
import type { LoginProgress } from '../../shared/protocol/login-types.js';

/** Renders text as a terminal QR code (qrcode-terminal's `generate`). */
export type QrRenderer = (text: string) => string;

/**
 * The QR code of `verification_uri_complete` (it carries the user code, never
 * the device code), for a phone's camera. Only for a terminal: in a log or a
 * pipe it is noise.
 */
export function deviceQrCode(progress: LoginProgress, render: QrRenderer | undefined): string | undefined {
  const uri = progress.verification_uri_complete;
  if (uri === undefined || render === undefined) return undefined;
  return `or scan this with a phone (it opens ${uri}):\n${render(uri)}`;
}

/** qrcode-terminal as a QrRenderer; loaded only when a device login may show a code. */
export async function loadQrRenderer(): Promise<QrRenderer> {
  const { default: qrcode } = await import('qrcode-terminal');
  return (text) => {
    let out = '';
    qrcode.generate(text, { small: true }, (rendered) => (out = rendered));
    return out;
  };
}

/** The lines shown at the `device_code` stage. `now` is epoch ms. */
export function deviceCodeLines(progress: LoginProgress, now: number): string[] {
  const lines = [`to approve this login, open in any browser (a phone will do):\n\n  ${progress.verification_uri ?? '?'}\n`, `and enter the code  ${progress.user_code ?? '?'}`];
  if (progress.expires_at !== undefined) {
    const minutes = Math.max(0, Math.round((progress.expires_at * 1000 - now) / 60_000));
    lines.push(`the code expires at ${new Date(progress.expires_at * 1000).toISOString()} (in about ${minutes} min)`);
  }
  if (progress.verification_uri_complete !== undefined) lines.push(`(or open ${progress.verification_uri_complete}, which carries the code)`);
  lines.push('waiting for approval...');
  return lines;
}

/**
 * For a fixed redirect URI: the command to run on the machine with the
 * browser, so that its redirect to 127.0.0.1:PORT reaches this machine.
 * Undefined when the URI is not a loopback URI with a port.
 */
export function forwardLine(redirectUri: string, host: string): string | undefined {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return undefined;
  }
  if (url.port === '' || (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost')) return undefined;
  return `the redirect goes to port ${url.port}: on the machine with the browser, forward it here first:\n\n  ssh -L ${url.port}:127.0.0.1:${url.port} ${host}\n`;
}
