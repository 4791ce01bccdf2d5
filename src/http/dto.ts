/**
 * Wire formats. Ids are 64-bit and travel as decimal strings; amounts travel as JSON integers in
 * minor units (like WeChat Pay's `total`), which is exact because we refuse anything beyond the
 * safe-integer range. Times are ISO 8601 UTC with `Z`.
 */
import { Type, type TSchema } from 'typebox';
import { DomainError } from '../kernel/errors.js';

export const IdString = Type.String({ pattern: '^[0-9]{1,19}$', description: '64-bit id as a decimal string' });
export const Amount = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'amount in minor units (fen for CNY); positive, at most 2^53-1' });
export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });
export const Timestamp = Type.String({ format: 'date-time' });
export const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'free-form JSON object, at most 4 KiB' });

export const ErrorSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
});

export function parseId(s: string, field = 'id'): bigint {
  if (!/^[0-9]{1,19}$/.test(s)) throw new DomainError('invalid_id', `${field} must be a decimal id`);
  const v = BigInt(s);
  if (v >= 1n << 63n) throw new DomainError('invalid_id', `${field} is out of range`);
  return v;
}

export function optId(s: string | undefined, field: string): bigint | undefined {
  return s === undefined ? undefined : parseId(s, field);
}

/** Amounts out: exact as long as they are within the safe-integer range, which balances are. */
export function amt(v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`amount ${v} is beyond the JSON-safe range`);
  return n;
}

export function iso(d: Date): string {
  return d.toISOString();
}

export function parseTime(s: string | undefined, field: string): Date | undefined {
  if (s === undefined) return undefined;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new DomainError('invalid_query', `${field} must be an ISO 8601 time`);
  return d;
}

/** Opaque pagination cursors: the position encoded so clients cannot depend on its form. */
export function encodeCursor(pos: bigint | undefined): string | null {
  return pos === undefined ? null : Buffer.from(`c1:${pos}`).toString('base64url');
}

export function decodeCursor(c: string | undefined): bigint | undefined {
  if (c === undefined || c === '') return undefined;
  const s = Buffer.from(c, 'base64url').toString('utf8');
  const m = /^c1:(-?[0-9]{1,20})$/.exec(s);
  if (!m) throw new DomainError('invalid_cursor', 'the cursor is not one this server issued');
  return BigInt(m[1]!);
}

export const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 }));

export function page<T>(data: T[], limit: number, pos: (t: T) => bigint): { data: T[]; next_cursor: string | null } {
  return { data, next_cursor: data.length === limit ? encodeCursor(pos(data[data.length - 1]!)) : null };
}

export function listOf(item: TSchema): TSchema {
  return Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
}

/**
 * Turns a module record into its wire form: camelCase keys become snake_case (an amount's
 * `Minor` suffix is dropped, since every amount on the wire is in minor units), bigint ids (`id`,
 * `...Id`) become decimal strings and other bigints JSON integers, Dates become ISO strings.
 */
export function toWire(v: unknown): unknown {
  if (typeof v === 'bigint') return amt(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // Ids are 64-bit and go out as strings like every other id in the API.
      const isId = k === 'id' || k.endsWith('Id');
      out[k.replace(/Minor$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = isId && typeof x === 'bigint' ? x.toString() : toWire(x);
    }
    return out;
  }
  return v;
}

/** The time-range / cursor part of a statement query, parsed once for every statement route. */
export function statementRange(q: { from?: string; to?: string; code?: string; limit?: number; cursor?: string }): {
  limit: number;
  from?: Date;
  to?: Date;
  code?: string;
  afterSeq?: bigint;
} {
  const from = parseTime(q.from, 'from');
  const to = parseTime(q.to, 'to');
  const after = decodeCursor(q.cursor);
  return { limit: q.limit ?? 50, ...(from ? { from } : {}), ...(to ? { to } : {}), ...(q.code ? { code: q.code } : {}), ...(after !== undefined ? { afterSeq: after } : {}) };
}
