import { AuthdError } from '../../../shared/errors.js';

/** The AuthdError a promise rejects with; anything else (or success) fails the test. */
export async function failure(promise: Promise<unknown>): Promise<AuthdError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AuthdError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}
