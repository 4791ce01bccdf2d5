/**
 * SimBank refunds (README §4) and payouts (代付, README §5). Payout outcomes are chosen by the
 * account number's last four digits (README §9) so tests need no hidden switches.
 */
import type { FaultDecision } from '../common/faults.js';
import { fail, fingerprint, isAmount, isHttpUrl, NUMBER, ok, type ApiAnswer, type BankContext } from './bank.context.js';
import { payoutData, refundData, type Payout, type Refund } from './bank.state.js';

export function createRefund(ctx: BankContext, merchantId: string, body: Record<string, unknown>, decision: FaultDecision): ApiAnswer {
  const { outTradeNo, outRefundNo, amount, currency, notifyUrl } = body;
  if (typeof outTradeNo !== 'string' || !NUMBER.test(outTradeNo)) return fail(400, 'PARAM_ERROR', 'outTradeNo must be 1-64 characters [A-Za-z0-9_-]');
  if (typeof outRefundNo !== 'string' || !NUMBER.test(outRefundNo)) return fail(400, 'PARAM_ERROR', 'outRefundNo must be 1-64 characters [A-Za-z0-9_-]');
  if (!isAmount(amount)) return fail(400, 'PARAM_ERROR', 'amount must be a positive integer number of fen');
  if (currency !== 'CNY') return fail(400, 'PARAM_ERROR', 'currency must be CNY');
  if (notifyUrl !== undefined && !isHttpUrl(notifyUrl)) return fail(400, 'PARAM_ERROR', 'notifyUrl must be an http(s) URL');
  const print = fingerprint(body, ['outTradeNo', 'amount', 'currency']);
  const existing = ctx.store.refunds.get(`${merchantId}|${outRefundNo}`);
  if (existing) return existing.fingerprint === print ? ok(refundData(existing)) : fail(409, 'DUPLICATE_OUT_REFUND_NO', 'outRefundNo exists with different content');
  const trade = ctx.store.trade(merchantId, outTradeNo);
  if (!trade || trade.fingerprint === '') return fail(404, 'ORDER_NOT_FOUND', 'no trade under this outTradeNo');
  if (trade.status !== 'SUCCESS') return fail(409, 'ORDER_NOT_REFUNDABLE', `the trade is ${trade.status}`);
  if (amount > trade.amountFen - trade.refundedFen) {
    return fail(422, 'REFUND_AMOUNT_EXCEEDED', `refundable amount is ${trade.amountFen - trade.refundedFen} fen`, { refundableAmount: trade.amountFen - trade.refundedFen });
  }
  if (decision === 'decline') return fail(422, 'REFUND_REJECTED', 'the bank rejected the refund');
  const refund = ctx.store.newRefund(
    { merchantId, outRefundNo, outTradeNo, tradeNo: trade.tradeNo, amountFen: amount, createdAt: new Date(), notifyUrl: typeof notifyUrl === 'string' ? notifyUrl : trade.notifyUrl, fingerprint: print },
    trade,
  );
  ctx.later(() => completeRefund(ctx, refund), ctx.refundDelayMs);
  return ok(refundData(refund));
}

function completeRefund(ctx: BankContext, r: Refund): void {
  if (r.status !== 'PROCESSING') return;
  r.status = 'SUCCESS';
  r.successTime = new Date();
  ctx.notify(r.notifyUrl, 'REFUND.SUCCEEDED', refundData(r), `${r.outRefundNo}:REFUND.SUCCEEDED`);
}

export function queryRefund(ctx: BankContext, merchantId: string, outRefundNo: string): ApiAnswer {
  const r = ctx.store.refunds.get(`${merchantId}|${outRefundNo}`);
  return r ? ok(refundData(r)) : fail(404, 'REFUND_NOT_FOUND', 'no refund under this outRefundNo');
}

const PAYOUT_FAILURES: Record<string, { code: string; reason: string }> = {
  '4001': { code: 'ACCOUNT_NAME_MISMATCH', reason: '户名不符' },
  '4002': { code: 'ACCOUNT_CLOSED', reason: '账户已销户' },
};

export function createPayout(ctx: BankContext, merchantId: string, body: Record<string, unknown>, decision: FaultDecision): ApiAnswer {
  const { outPayoutNo, amount, currency, accountNo, accountName, bankCode, notifyUrl } = body;
  if (typeof outPayoutNo !== 'string' || !NUMBER.test(outPayoutNo)) return fail(400, 'PARAM_ERROR', 'outPayoutNo must be 1-64 characters [A-Za-z0-9_-]');
  if (!isAmount(amount)) return fail(400, 'PARAM_ERROR', 'amount must be a positive integer number of fen');
  if (currency !== 'CNY') return fail(400, 'PARAM_ERROR', 'currency must be CNY');
  if (typeof accountNo !== 'string' || !/^\d{8,32}$/.test(accountNo)) return fail(400, 'PARAM_ERROR', 'accountNo must be 8-32 digits');
  if (typeof accountName !== 'string' || accountName.length === 0 || accountName.length > 64) return fail(400, 'PARAM_ERROR', 'accountName must be 1-64 characters');
  if (typeof bankCode !== 'string' || !/^[A-Z0-9]{2,12}$/.test(bankCode)) return fail(400, 'PARAM_ERROR', 'bankCode must be 2-12 characters [A-Z0-9]');
  if (notifyUrl !== undefined && !isHttpUrl(notifyUrl)) return fail(400, 'PARAM_ERROR', 'notifyUrl must be an http(s) URL');
  const print = fingerprint(body, ['amount', 'currency', 'accountNo', 'accountName', 'bankCode']);
  const existing = ctx.store.payouts.get(`${merchantId}|${outPayoutNo}`);
  if (existing) return existing.fingerprint === print ? ok(payoutData(existing)) : fail(409, 'DUPLICATE_OUT_PAYOUT_NO', 'outPayoutNo exists with different content');
  if (decision === 'decline') return fail(422, 'PAYOUT_REJECTED', 'the bank rejected the payout');
  const now = new Date();
  const failure = PAYOUT_FAILURES[accountNo.slice(-4)];
  const payout = ctx.store.newPayout({
    merchantId,
    outPayoutNo,
    amountFen: amount,
    accountNo,
    accountName,
    bankCode,
    ...(typeof notifyUrl === 'string' ? { notifyUrl } : {}),
    status: failure ? 'FAILED' : accountNo.endsWith('4003') ? 'PROCESSING' : 'SUCCESS',
    ...(failure ? { failCode: failure.code, failReason: failure.reason } : {}),
    createdAt: now,
    ...(!failure && !accountNo.endsWith('4003') ? { successTime: now } : {}),
    fingerprint: print,
  });
  if (payout.status === 'PROCESSING') {
    if (ctx.payoutSettleMs > 0) ctx.later(() => settlePayout(ctx, payout, true), ctx.payoutSettleMs);
  } else {
    notifyPayout(ctx, payout);
  }
  return ok(payoutData(payout));
}

function notifyPayout(ctx: BankContext, p: Payout): void {
  if (!p.notifyUrl) return;
  const type = p.status === 'SUCCESS' ? 'PAYOUT.SUCCEEDED' : 'PAYOUT.FAILED';
  ctx.notify(p.notifyUrl, type, payoutData(p), `${p.outPayoutNo}:${type}`);
}

/** The receiving bank's answer to a cross-bank payout: credited, or returned (ACCOUNT_FROZEN). */
export function settlePayout(ctx: BankContext, p: Payout, success: boolean): boolean {
  if (p.status !== 'PROCESSING') return false;
  if (success) {
    p.status = 'SUCCESS';
    p.successTime = new Date();
  } else {
    p.status = 'FAILED';
    p.failCode = 'ACCOUNT_FROZEN';
    p.failReason = '收款账户冻结，资金已退回';
  }
  notifyPayout(ctx, p);
  return true;
}

export function queryPayout(ctx: BankContext, merchantId: string, outPayoutNo: string): ApiAnswer {
  const p = ctx.store.payouts.get(`${merchantId}|${outPayoutNo}`);
  return p ? ok(payoutData(p)) : fail(404, 'PAYOUT_NOT_FOUND', 'no payout under this outPayoutNo');
}
