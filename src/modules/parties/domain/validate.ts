/**
 * Input checks shared by the use cases. Each returns the normalised value or a failure naming
 * the field, so a bad request is refused before anything is read or written.
 */
import { fail, ok, type Result } from '../../../kernel/errors.js';
import { USER_ROLES, type UserRole } from './types.js';

// Control characters (including newlines) in names end up in CSV exports, logs and bank files.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Narrows an unknown input to one of a fixed list of values. */
export function isOneOf<T extends string | number>(list: readonly T[], v: unknown): v is T {
  return (list as readonly unknown[]).includes(v);
}

/** Trims and checks a free-text field by its length in characters (not UTF-16 units). */
export function checkText<C extends string>(code: C, field: string, raw: string, min: number, max: number): Result<string, C> {
  const v = raw.trim();
  const len = [...v].length;
  if (len < min || len > max) return fail(code, min > 0 ? `${field} must be ${min}-${max} characters` : `${field} must be at most ${max} characters`, { field });
  if (CONTROL_RE.test(v)) return fail(code, `${field} must not contain control characters or line breaks`, { field });
  return ok(v);
}

const LOGIN_RE = /^[a-z0-9][a-z0-9._@-]{2,63}$/;

/** Login names are case-insensitive: stored in lower case, unique platform-wide. */
export function checkLoginName(raw: string): Result<string, 'invalid_login_name'> {
  const v = raw.trim().toLowerCase();
  if (!LOGIN_RE.test(v)) return fail('invalid_login_name', 'login_name must be 3-64 characters of a-z, 0-9, ".", "_", "@", "-", starting with a letter or digit');
  return ok(v);
}

export function checkRoles(raw: readonly string[]): Result<UserRole[], 'invalid_user'> {
  if (raw.length === 0) return fail('invalid_user', 'a user needs at least one role');
  const out: UserRole[] = [];
  for (const r of raw) {
    if (!(USER_ROLES as readonly string[]).includes(r)) return fail('invalid_user', `role must be one of ${USER_ROLES.join(', ')}`, { role: r });
    if (out.includes(r as UserRole)) return fail('invalid_user', `role ${r} is listed twice`);
    out.push(r as UserRole);
  }
  return ok(out);
}

export function checkMcc(raw: string): Result<string, 'invalid_merchant'> {
  return /^[0-9]{4}$/.test(raw) ? ok(raw) : fail('invalid_merchant', 'mcc must be a 4-digit merchant category code', { field: 'mcc' });
}

/**
 * Settlement cycles: T+N settles N business days after the trade day (N = 0..30); D+1 settles
 * the next calendar day, holidays included.
 */
export function checkSettlementCycle(raw: string): Result<string, 'invalid_settlement_cycle'> {
  const m = /^(T|D)\+([0-9]{1,2})$/.exec(raw);
  const n = m ? Number(m[2]) : -1;
  if (m && m[1] === 'T' && n <= 30 && String(n) === m[2]) return ok(raw);
  if (raw === 'D+1') return ok(raw);
  return fail('invalid_settlement_cycle', 'settlement_cycle must be T+0 .. T+30 or D+1');
}

const REF_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Client-supplied references (fee plan ids, external refs): 1-64 characters of [A-Za-z0-9_.:-]. */
export function checkRef<C extends string>(code: C, field: string, raw: string): Result<string, C> {
  return REF_RE.test(raw) ? ok(raw) : fail(code, `${field} must be 1-64 characters of A-Z, a-z, 0-9, "_", ".", ":", "-"`, { field });
}

/** Reasons recorded with status changes: optional, at most 500 characters. */
export function checkReason<C extends string>(code: C, raw: string | undefined): Result<string, C> {
  return checkText(code, 'reason', raw ?? '', 0, 500);
}
