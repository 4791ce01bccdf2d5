/**
 * Payouts (代付) and collections (代收) over the bank channel. These are outside the common
 * ChannelAdapter contract (which covers payer-initiated payments): settlement and collections
 * modules call these pure functions directly, with the same CallContext and sender as the adapter.
 *
 * A payout result is `failed` only when the bank's signed answer proves nothing was debited
 * (README §5: FAILED with ACCOUNT_NAME_MISMATCH / ACCOUNT_CLOSED / ACCOUNT_FROZEN, and every 4xx
 * refusal and 503 maintenance); a 409 duplicate, a 5xx or an untrusted answer is `unknown`.
 */
import type { CallContext, HttpRequestSpec, HttpResponseData } from '../../adapter.js';
import { amount, amountJson, signedRequest, str, time, verifiedEnvelope, verifyFromBank } from './bank.codec.js';
import type { BankConfig } from './bank.config.js';

export interface PayoutRequest {
  /** Our payout number (unique per payout attempt, ≤ 64 chars). */
  outPayoutNo: string;
  amountMinor: bigint;
  currency: string;
  accountNo: string;
  accountName: string;
  /** The receiving bank's code, e.g. ICBC. */
  bankCode: string;
  purpose?: string;
  notifyUrl?: string;
}

export type PayoutResult =
  | { kind: 'succeeded'; outPayoutNo: string; channelPayoutNo: string; amountMinor: bigint; feeMinor: bigint; completedAt?: Date }
  | { kind: 'processing'; outPayoutNo: string; channelPayoutNo: string; amountMinor: bigint }
  /** Proven that no money left the account. */
  | { kind: 'failed'; code: string; message: string; channelPayoutNo?: string }
  | { kind: 'unknown'; reason: string };

export type PayoutQueryResult = PayoutResult | { kind: 'not_found' };

export function buildPayout(cfg: BankConfig, req: PayoutRequest, cx: CallContext): HttpRequestSpec {
  if (req.currency !== 'CNY') throw new Error('bank payouts are in CNY only');
  return signedRequest(cfg, 'POST', '/openapi/v1/payouts', {
    outPayoutNo: req.outPayoutNo,
    amount: amountJson(req.amountMinor),
    currency: req.currency,
    accountNo: req.accountNo,
    accountName: req.accountName,
    bankCode: req.bankCode,
    ...(req.purpose === undefined ? {} : { purpose: req.purpose }),
    ...(req.notifyUrl === undefined ? {} : { notifyUrl: req.notifyUrl }),
  }, cx);
}

/** Reads a payout record (`data` of an answer or a notification). */
export function payoutFromData(d: Record<string, unknown> | undefined): PayoutResult {
  const outPayoutNo = str(d, 'outPayoutNo');
  const payoutNo = str(d, 'payoutNo');
  const amountMinor = amount(d, 'amount');
  if (!outPayoutNo || !payoutNo || amountMinor === undefined) return { kind: 'unknown', reason: 'payout record lacks outPayoutNo, payoutNo or amount' };
  switch (str(d, 'status')) {
    case 'SUCCESS': {
      const completedAt = time(d, 'successTime');
      return { kind: 'succeeded', outPayoutNo, channelPayoutNo: payoutNo, amountMinor, feeMinor: amount(d, 'fee') ?? 0n, ...(completedAt ? { completedAt } : {}) };
    }
    case 'PROCESSING':
      return { kind: 'processing', outPayoutNo, channelPayoutNo: payoutNo, amountMinor };
    case 'FAILED':
      return { kind: 'failed', code: str(d, 'failCode') ?? 'FAILED', message: str(d, 'failReason') ?? '', channelPayoutNo: payoutNo };
    default:
      return { kind: 'unknown', reason: `unexpected payout status ${str(d, 'status') ?? '(none)'}` };
  }
}

export function parsePayout(cfg: BankConfig, res: HttpResponseData, cx: CallContext): PayoutResult {
  const v = verifiedEnvelope(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  const { env } = v;
  if (env.httpStatus === 200 && env.code === 'SUCCESS') return payoutFromData(env.data);
  // A duplicate number means an earlier payout under it exists: only a query can say what it did.
  if (env.code === 'DUPLICATE_OUT_PAYOUT_NO') return { kind: 'unknown', reason: 'a payout with this number exists with other content; query it' };
  if ([400, 401, 422, 503].includes(env.httpStatus)) return { kind: 'failed', code: env.code, message: env.message };
  return { kind: 'unknown', reason: `bank answered HTTP ${env.httpStatus} ${env.code}` };
}

export function buildPayoutQuery(cfg: BankConfig, req: { outPayoutNo: string }, cx: CallContext): HttpRequestSpec {
  return signedRequest(cfg, 'GET', `/openapi/v1/payouts/${encodeURIComponent(req.outPayoutNo)}`, undefined, cx);
}

export function parsePayoutQuery(cfg: BankConfig, res: HttpResponseData, cx: CallContext): PayoutQueryResult {
  const v = verifiedEnvelope(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  const { env } = v;
  if (env.httpStatus === 200 && env.code === 'SUCCESS') return payoutFromData(env.data);
  if (env.httpStatus === 404 && env.code === 'PAYOUT_NOT_FOUND') return { kind: 'not_found' };
  return { kind: 'unknown', reason: `payout query answered HTTP ${env.httpStatus} ${env.code}` };
}

const ACK: HttpResponseData = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"code":"SUCCESS"}' };
const nack = (message: string): HttpResponseData => ({ status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'FAIL', message }) });

/** Verifies a PAYOUT.* notification (sent to the payout's notifyUrl). */
export function verifyPayoutNotification(
  cfg: BankConfig,
  req: { headers: Record<string, string>; body: string },
  cx: CallContext,
): { ok: true; payout: PayoutResult; ack: HttpResponseData } | { ok: false; code: 'bad_signature' | 'bad_format' | 'stale'; message: string; nack: HttpResponseData } {
  const v = verifyFromBank(cfg, req.headers, req.body, cx.now);
  if (!v.ok) return { ok: false, code: v.stale ? 'stale' : 'bad_signature', message: v.reason, nack: nack(v.reason) };
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(req.body) as Record<string, unknown>;
  } catch {
    return { ok: false, code: 'bad_format', message: 'notification is not JSON', nack: nack('not JSON') };
  }
  const type = typeof o['eventType'] === 'string' ? o['eventType'] : '';
  if (!type.startsWith('PAYOUT.')) return { ok: false, code: 'bad_format', message: `not a payout event: ${type}`, nack: nack('not a payout event') };
  const data = typeof o['data'] === 'object' && o['data'] !== null ? (o['data'] as Record<string, unknown>) : undefined;
  const payout = payoutFromData(data);
  if (payout.kind === 'unknown') return { ok: false, code: 'bad_format', message: payout.reason, nack: nack('bad payout record') };
  return { ok: true, payout, ack: ACK };
}

export { ACK as BANK_ACK, nack as bankNack };
