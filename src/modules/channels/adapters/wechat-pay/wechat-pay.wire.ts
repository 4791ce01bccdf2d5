/**
 * Small pieces of the WeChat Pay wire format: times (RFC 3339 in China time), amounts (integer fen
 * in JSON, decimal yuan in bills), error bodies, and the mapping of WeChat's states onto ours.
 */
import type { RefundStatus, TradeStatus } from '../../adapter.js';

const CHINA_OFFSET_MS = 8 * 3_600_000;

/** RFC 3339 in China time, e.g. 2018-06-08T10:34:56+08:00, the form WeChat documents for time_expire. */
export function toChinaRfc3339(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 19) + '+08:00';
}

const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function parseRfc3339(v: unknown): Date | undefined {
  if (typeof v !== 'string' || !RFC3339_RE.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** "2021-01-28 17:07:11" in China time (bill lines) to an instant. */
export function parseChinaDateTime(v: string): Date | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(v);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}+08:00`);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * Decimal yuan ("12.34", "-0.00060", "0.6") to fen. Bills give fees with five decimals; WeChat
 * rounds fees to the fen, so the extra digits are normally zero — when they are not we round half
 * away from zero, explicitly, rather than drop them.
 */
export function yuanToFen(v: string): bigint | undefined {
  const m = /^(-)?(\d{1,15})(?:\.(\d{1,5}))?$/.exec(v);
  if (!m) return undefined;
  const decimals = (m[3] ?? '').padEnd(5, '0');
  let fen = BigInt(m[2]!) * 100n + BigInt(decimals.slice(0, 2));
  if (Number(decimals.slice(2)) >= 500) fen += 1n;
  return m[1] ? -fen : fen;
}

/** A JSON integer amount in fen (WeChat's `total`, `refund`, …) as bigint; undefined when not a safe non-negative integer. */
export function fenFromJson(v: unknown): bigint | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
}

export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function str(o: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function obj(o: Record<string, unknown> | undefined, key: string): Record<string, unknown> | undefined {
  const v = o?.[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** WeChat's error body `{"code": "...", "message": "..."}`; a body without a code is reported as such. */
export function errorOf(status: number, body: string): { code: string; message: string } {
  const o = parseJsonObject(body);
  const code = str(o, 'code');
  return { code: code ?? `HTTP_${status}`, message: str(o, 'message') ?? (body.slice(0, 200) || `HTTP ${status} without a body`) };
}

/**
 * trade_state → our status. NOTPAY stays pending even after time_expire: WeChat documents that the
 * expiry only stops the payer from paying; the order is closed by the merchant's close call.
 * USERPAYING (payer entering the password) is pending too: ask again. REFUND ("转入退款") means the
 * payment succeeded and at least one refund was taken, in part or in full. Unknown values map to
 * undefined so the caller answers `unknown`.
 */
export function tradeStatusOf(state: string | undefined): TradeStatus | undefined {
  switch (state) {
    case 'SUCCESS':
      return 'succeeded';
    case 'REFUND':
      return 'refunded';
    case 'NOTPAY':
    case 'USERPAYING':
    case 'ACCEPT':
      return 'pending';
    case 'CLOSED':
    case 'REVOKED':
      return 'closed';
    case 'PAYERROR':
      return 'failed';
    default:
      return undefined;
  }
}

/**
 * Refund status → ours. ABNORMAL (the money left the merchant but the payer's card refused it) is
 * not final at WeChat — an operator finishes it with the apply-abnormal-refund API — but it is not
 * a success either, so it surfaces as `failed` for an operator to act on.
 */
export function refundStatusOf(status: string | undefined): RefundStatus | undefined {
  switch (status) {
    case 'SUCCESS':
      return 'succeeded';
    case 'PROCESSING':
      return 'processing';
    case 'CLOSED':
      return 'closed';
    case 'ABNORMAL':
      return 'failed';
    default:
      return undefined;
  }
}
