/**
 * Colour for people, never for programs: only when the output is a terminal
 * and the user has not asked for none (https://no-color.org: NO_COLOR set to
 * anything but the empty string turns colour off).
 */

export type Tone = 'good' | 'warn' | 'bad' | 'dim';

const SGR: Record<Tone, string> = { good: '32', warn: '33', bad: '31', dim: '2' };

export function shouldUseColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  const noColor = env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  return stream.isTTY === true;
}

/** A painter that is the identity when colour is off, so callers never branch. */
export function painter(color: boolean): (tone: Tone, text: string) => string {
  return color ? (tone, text) => `\x1b[${SGR[tone]}m${text}\x1b[0m` : (_tone, text) => text;
}
