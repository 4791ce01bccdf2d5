/**
 * Expected failures travel as values (`Result`), programmer errors as thrown `Error`s.
 * `DomainError` exists only so that a value-level failure can cross a boundary that
 * cannot return values (for example a fastify handler); http/ maps its code to a status.
 */
export type Ok<T> = { ok: true; value: T };
export type Fail<C extends string = string> = {
  ok: false;
  code: C;
  message: string;
  details?: Record<string, unknown>;
};
export type Result<T, C extends string = string> = Ok<T> | Fail<C>;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function fail<C extends string>(code: C, message: string, details?: Record<string, unknown>): Fail<C> {
  return details === undefined ? { ok: false, code, message } : { ok: false, code, message, details };
}

export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  static from(f: Fail): DomainError {
    return new DomainError(f.code, f.message, f.details);
  }
}

/** Unwraps a result or throws its failure as a DomainError. */
export function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw DomainError.from(r);
}

export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
