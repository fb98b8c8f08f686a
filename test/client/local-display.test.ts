// Which approval `mcpauthd login` picks (issue 16 items 1-3): a browser here,
// the device login where no browser can be opened, or what the flags say.
import { describe, expect, it } from '@jest/globals';
import { chooseApproval } from '../../client/cli/login-command.js';
import { localDisplay } from '../../client/cli/local-display.js';
import { UsageError } from '../../client/cli/cli-core.js';
import { deviceCodeLines, deviceQrCode, forwardLine, loadQrRenderer } from '../../client/cli/login-messages.js';

describe('localDisplay', () => {
  it('Linux: a display only with DISPLAY or WAYLAND_DISPLAY, and never over SSH unless $BROWSER says how', () => {
    expect(localDisplay({ platform: 'linux', env: { DISPLAY: ':0' } })).toEqual({ available: true });
    expect(localDisplay({ platform: 'linux', env: { WAYLAND_DISPLAY: 'wayland-0' } })).toEqual({ available: true });
    expect(localDisplay({ platform: 'linux', env: {} })).toEqual({ available: false, why: 'neither DISPLAY nor WAYLAND_DISPLAY is set' });
    expect(localDisplay({ platform: 'linux', env: { DISPLAY: ':0', SSH_TTY: '/dev/pts/3' } })).toEqual({ available: false, why: 'this is an SSH session' });
    expect(localDisplay({ platform: 'linux', env: { SSH_CONNECTION: 'a b c d', BROWSER: 'w3m' } })).toEqual({ available: true });
  });

  it('macOS: a GUI (Aqua) session is a display; anything else is not', () => {
    expect(localDisplay({ platform: 'darwin', env: {}, macGuiSession: () => true })).toEqual({ available: true });
    expect(localDisplay({ platform: 'darwin', env: {}, macGuiSession: () => false })).toEqual({ available: false, why: 'this is not a macOS GUI session' });
    expect(localDisplay({ platform: 'darwin', env: { SSH_CONNECTION: 'a b c d' }, macGuiSession: () => true }).available).toBe(false);
  });
});

describe('chooseApproval', () => {
  const none = () => ({ available: false as const, why: 'neither DISPLAY nor WAYLAND_DISPLAY is set' });
  const here = () => ({ available: true as const });
  it('--device always; with --redirect-uri it is a usage error', () => {
    expect(chooseApproval({ device: true, noBrowser: false, redirectUri: false }, here)).toEqual({ device: 'required', openBrowser: false });
    expect(() => chooseApproval({ device: true, noBrowser: false, redirectUri: true }, here)).toThrow(UsageError);
  });
  it('no display: the device login where offered, and no browser started', () => {
    expect(chooseApproval({ device: false, noBrowser: false, redirectUri: false }, none)).toMatchObject({ device: 'preferred', openBrowser: false });
  });
  it('a display, --no-browser or --redirect-uri: the browser login as before', () => {
    expect(chooseApproval({ device: false, noBrowser: false, redirectUri: false }, here)).toEqual({ device: undefined, openBrowser: true });
    expect(chooseApproval({ device: false, noBrowser: true, redirectUri: false }, none)).toEqual({ device: undefined, openBrowser: false });
    expect(chooseApproval({ device: false, noBrowser: false, redirectUri: true }, none)).toEqual({ device: undefined, openBrowser: true });
  });
});

describe('login messages', () => {
  it('the ssh -L line forwards the fixed port to 127.0.0.1 on this host', () => {
    expect(forwardLine('http://localhost:8765/cb', 'box')).toContain('ssh -L 8765:127.0.0.1:8765 box');
    expect(forwardLine('not a url', 'box')).toBeUndefined();
  });
  it('the QR code (a terminal only) encodes verification_uri_complete with qrcode-terminal', async () => {
    const progress = { stage: 'device_code' as const, login_id: 'x', verification_uri: 'https://as/device', verification_uri_complete: 'https://as/device?user_code=ABCD-EFGH' };
    const shown = deviceQrCode(progress, await loadQrRenderer());
    expect(shown).toContain('it opens https://as/device?user_code=ABCD-EFGH');
    // Half-height block characters, at least 21 modules (QR version 1) across.
    expect(shown?.split('\n').filter((line) => /^[█▀▄ ]{21,}$/.test(line)).length).toBeGreaterThan(10);
    expect(deviceQrCode(progress, undefined)).toBeUndefined();
    expect(deviceQrCode({ ...progress, verification_uri_complete: undefined }, await loadQrRenderer())).toBeUndefined();
  });

  it('the device lines show the URI, the code and the expiry', () => {
    const lines = deviceCodeLines({ stage: 'device_code', login_id: 'x', verification_uri: 'https://as/device', user_code: 'ABCD-EFGH', expires_at: 1_700_000_600 }, 1_700_000_000_000);
    expect(lines.join('\n')).toMatch(/https:\/\/as\/device[\s\S]*ABCD-EFGH[\s\S]*in about 10 min/);
  });
});
