/**
 * Input assertions for exported functions. Caller mistakes are TypeErrors with a
 * Node-style code; they are never confused with a failing daemon or server.
 */

class ArgumentError extends TypeError {
  readonly code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE';
  constructor(code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE', message: string) {
    super(message);
    this.code = code;
  }
}

export function assertString(input: unknown, name: string): asserts input is string {
  if (typeof input !== 'string') throw new ArgumentError('ERR_INVALID_ARG_TYPE', `"${name}" must be a string`);
  if (input.length === 0) throw new ArgumentError('ERR_INVALID_ARG_VALUE', `"${name}" must not be empty`);
}

export function assertOptionalString(input: unknown, name: string): asserts input is string | undefined {
  if (input !== undefined) assertString(input, name);
}

export function assertNonNegativeInteger(input: unknown, name: string): asserts input is number {
  if (typeof input !== 'number' || !Number.isSafeInteger(input) || input < 0) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `"${name}" must be a non-negative integer`);
  }
}

export function assertStringArray(input: unknown, name: string): asserts input is string[] {
  if (!Array.isArray(input) || !input.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `"${name}" must be an array of non-empty strings`);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
