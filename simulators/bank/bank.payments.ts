/**
 * SimBank payments (README §3): create (quick, gateway, collection), SMS confirmation, query,
 * close, and the payer completing a gateway trade. Handlers return the answer; the server signs it.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { FaultDecision } from '../common/faults.js';
import { asObject, fail, fingerprint, isAmount, isHttpUrl, NUMBER, ok, type ApiAnswer, type BankContext } from './bank.context.js';
import { tradeData, type Trade } from './bank.state.js';

/** A collection above this is refused as INSUFFICIENT_FUNDS (the payer's account runs dry). */
const COLLECTION_LIMIT_FEN = 5_000_000;

function view(ctx: BankContext, t: Trade): Record<string, unknown> {
  return tradeData(t, ctx.cashierUrl());
}

function agreementOf(ctx: BankContext, merchantId: string, agreementNo: unknown) {
  return ctx.merchants.get(merchantId)?.merchant.agreements.find((a) => a.agreementNo === agreementNo && a.status === 'ACTIVE');
}

function paid(ctx: BankContext, t: Trade, at: Date): void {
  t.status = 'SUCCESS';
  t.paidAt = at;
  delete t.sms;
  delete t.cashierToken;
  ctx.notify(t.notifyUrl, 'PAYMENT.SUCCEEDED', view(ctx, t), `${t.outTradeNo}:PAYMENT.SUCCEEDED`);
}

function failed(ctx: BankContext, t: Trade, code: string): void {
  t.status = 'FAILED';
  t.failCode = code;
  delete t.sms;
  delete t.cashierToken;
  ctx.notify(t.notifyUrl, 'PAYMENT.FAILED', view(ctx, t), `${t.outTradeNo}:PAYMENT.FAILED`);
}

type CardCheck = { ok: true; cardNo?: string; phone: string } | { ok: false; answer: ApiAnswer };

function checkCard(ctx: BankContext, merchantId: string, card: Record<string, unknown> | undefined): CardCheck {
  if (!card) return { ok: false, answer: fail(400, 'PARAM_ERROR', 'card is required for QUICK') };
  if (card['agreementNo'] !== undefined) {
    const a = agreementOf(ctx, merchantId, card['agreementNo']);
    return a ? { ok: true, phone: a.phone } : { ok: false, answer: fail(422, 'AGREEMENT_INVALID', 'the bound-card agreement is unknown or terminated') };
  }
  const { cardNo, holderName, idType, idNumber, phone } = card;
  if (typeof cardNo !== 'string' || !/^\d{16,19}$/.test(cardNo)) return { ok: false, answer: fail(400, 'PARAM_ERROR', 'card.cardNo must be 16-19 digits') };
  if (typeof holderName !== 'string' || holderName.length === 0) return { ok: false, answer: fail(400, 'PARAM_ERROR', 'card.holderName is required') };
  if (idType !== 'ID_CARD' || typeof idNumber !== 'string' || !/^\d{17}[\dX]$/.test(idNumber)) return { ok: false, answer: fail(400, 'PARAM_ERROR', 'card.idType ID_CARD and an 18-character idNumber are required') };
  if (typeof phone !== 'string' || !/^1\d{10}$/.test(phone)) return { ok: false, answer: fail(400, 'PARAM_ERROR', 'card.phone must be a mainland mobile number') };
  if (cardNo.endsWith('0002')) return { ok: false, answer: fail(422, 'CARD_INFO_MISMATCH', 'holder name, ID number or phone does not match the card') };
  return { ok: true, cardNo, phone };
}

export function createPayment(ctx: BankContext, merchantId: string, body: Record<string, unknown>, decision: FaultDecision): ApiAnswer {
  const { outTradeNo, method, amount, currency, subject, expireTime, notifyUrl, returnUrl } = body;
  if (typeof outTradeNo !== 'string' || !NUMBER.test(outTradeNo)) return fail(400, 'PARAM_ERROR', 'outTradeNo must be 1-64 characters [A-Za-z0-9_-]');
  if (method !== 'QUICK' && method !== 'GATEWAY' && method !== 'COLLECTION') return fail(400, 'PARAM_ERROR', 'method must be QUICK, GATEWAY or COLLECTION');
  if (!isAmount(amount)) return fail(400, 'PARAM_ERROR', 'amount must be a positive integer number of fen');
  if (currency !== 'CNY') return fail(400, 'PARAM_ERROR', 'currency must be CNY');
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 128) return fail(400, 'PARAM_ERROR', 'subject must be 1-128 characters');
  const expireMs = typeof expireTime === 'string' ? Date.parse(expireTime) : NaN;
  if (Number.isNaN(expireMs)) return fail(400, 'PARAM_ERROR', 'expireTime must be an ISO 8601 time');
  if (!isHttpUrl(notifyUrl)) return fail(400, 'PARAM_ERROR', 'notifyUrl must be an http(s) URL');
  if (returnUrl !== undefined && !isHttpUrl(returnUrl)) return fail(400, 'PARAM_ERROR', 'returnUrl must be an http(s) URL');

  const now = new Date();
  const print = fingerprint(body, ['method', 'amount', 'currency', 'subject', 'expireTime', 'notifyUrl', 'returnUrl', 'card', 'agreementNo']);
  const existing = ctx.store.trade(merchantId, outTradeNo, now);
  if (existing) {
    if (existing.closeReason === 'MERCHANT_CLOSED' && existing.fingerprint === '') return fail(409, 'ORDER_CLOSED', 'this outTradeNo was closed and cannot be used');
    return existing.fingerprint === print ? ok(view(ctx, existing)) : fail(409, 'DUPLICATE_OUT_TRADE_NO', 'outTradeNo exists with different content');
  }
  if (expireMs <= now.getTime()) return fail(400, 'PARAM_ERROR', 'expireTime must be in the future');
  const base = { merchantId, outTradeNo, method, amountFen: amount, subject, expireAt: new Date(expireMs), notifyUrl, createdAt: now, fingerprint: print, ...(typeof returnUrl === 'string' ? { returnUrl } : {}) } as const;

  switch (method) {
    case 'QUICK': {
      const card = checkCard(ctx, merchantId, asObject(body['card']));
      if (!card.ok) return card.answer;
      if (decision === 'decline') return fail(422, 'CARD_DECLINED', 'the issuer declined the card');
      const t = ctx.store.newTrade({
        ...base,
        status: 'AWAITING_CONFIRMATION',
        ...(card.cardNo ? { cardNo: card.cardNo } : {}),
        maskedPhone: `${card.phone.slice(0, 3)}****${card.phone.slice(-4)}`,
        sms: { code: String(randomInt(1_000_000)).padStart(6, '0'), expiresAt: new Date(now.getTime() + ctx.smsTtlMs), attemptsLeft: ctx.smsMaxAttempts },
      });
      return ok(view(ctx, t));
    }
    case 'GATEWAY': {
      if (decision === 'decline') return fail(422, 'RISK_REJECTED', 'the bank refused the order');
      const t = ctx.store.newTrade({ ...base, status: 'PENDING', cashierToken: randomBytes(16).toString('hex') });
      return ok(view(ctx, t));
    }
    case 'COLLECTION': {
      if (!agreementOf(ctx, merchantId, body['agreementNo'])) return fail(422, 'AGREEMENT_INVALID', 'the collection agreement is unknown or terminated');
      if (decision === 'decline') return fail(422, 'CARD_DECLINED', 'the issuer declined the debit');
      const t = ctx.store.newTrade({ ...base, status: 'PENDING' });
      if (amount > COLLECTION_LIMIT_FEN) {
        failed(ctx, t, 'INSUFFICIENT_FUNDS');
        return fail(422, 'INSUFFICIENT_FUNDS', 'insufficient funds in the payer account', view(ctx, t));
      }
      paid(ctx, t, now);
      return ok(view(ctx, t));
    }
  }
}

export function confirmPayment(ctx: BankContext, merchantId: string, outTradeNo: string, body: Record<string, unknown>, decision: FaultDecision): ApiAnswer {
  const now = new Date();
  const t = ctx.store.trade(merchantId, outTradeNo, now);
  if (!t) return fail(404, 'ORDER_NOT_FOUND', 'no trade under this outTradeNo');
  if (t.status !== 'AWAITING_CONFIRMATION' || !t.sms) return fail(409, 'ORDER_NOT_PAYABLE', `the trade is ${t.status}`, view(ctx, t));
  const code = body['smsCode'];
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return fail(400, 'PARAM_ERROR', 'smsCode must be 6 digits');
  if (now.getTime() >= t.sms.expiresAt.getTime()) {
    t.status = 'CLOSED';
    t.closeReason = 'SMS_EXPIRED';
    delete t.sms;
    return fail(422, 'SMS_CODE_EXPIRED', 'the SMS code has expired; the trade is closed', view(ctx, t));
  }
  if (code !== t.sms.code) {
    t.sms.attemptsLeft--;
    if (t.sms.attemptsLeft <= 0) {
      t.status = 'CLOSED';
      t.closeReason = 'SMS_ATTEMPTS_EXCEEDED';
      delete t.sms;
      return fail(422, 'SMS_CODE_ATTEMPTS_EXCEEDED', 'too many wrong SMS codes; the trade is closed', view(ctx, t));
    }
    return fail(422, 'SMS_CODE_INVALID', 'wrong SMS code', { tradeNo: t.tradeNo, attemptsLeft: t.sms.attemptsLeft });
  }
  if (decision === 'decline') {
    failed(ctx, t, 'CARD_DECLINED');
    return fail(422, 'CARD_DECLINED', 'the issuer declined the debit', view(ctx, t));
  }
  if (t.cardNo?.endsWith('0051')) {
    failed(ctx, t, 'INSUFFICIENT_FUNDS');
    return fail(422, 'INSUFFICIENT_FUNDS', 'insufficient funds on the card', view(ctx, t));
  }
  paid(ctx, t, now);
  return ok(view(ctx, t));
}

export function queryPayment(ctx: BankContext, merchantId: string, outTradeNo: string): ApiAnswer {
  const t = ctx.store.trade(merchantId, outTradeNo);
  return t ? ok(view(ctx, t)) : fail(404, 'ORDER_NOT_FOUND', 'no trade under this outTradeNo');
}

export function closePayment(ctx: BankContext, merchantId: string, outTradeNo: string): ApiAnswer {
  const now = new Date();
  const t = ctx.store.trade(merchantId, outTradeNo, now);
  if (!t) {
    // Remember the number as closed so a create still in flight can never succeed under it. The
    // empty fingerprint marks it as a number closed before any create arrived.
    const closed = ctx.store.newTrade({ merchantId, outTradeNo, method: 'GATEWAY', amountFen: 0, subject: '', expireAt: now, notifyUrl: '', createdAt: now, fingerprint: '', status: 'CLOSED', closeReason: 'MERCHANT_CLOSED' });
    return ok(view(ctx, closed));
  }
  switch (t.status) {
    case 'SUCCESS':
      return fail(409, 'ORDER_PAID', 'the trade is paid; refund it instead', view(ctx, t));
    case 'AWAITING_CONFIRMATION':
    case 'PENDING':
      t.status = 'CLOSED';
      t.closeReason = 'MERCHANT_CLOSED';
      delete t.sms;
      delete t.cashierToken;
      return ok(view(ctx, t));
    case 'FAILED':
    case 'CLOSED':
      return ok(view(ctx, t));
  }
}

/** The payer at the gateway cashier (control endpoint). */
export function payAtCashier(ctx: BankContext, t: Trade, success: boolean): { ok: true } | { ok: false; status: number; error: string } {
  ctx.store.trade(t.merchantId, t.outTradeNo);
  if (t.method !== 'GATEWAY') return { ok: false, status: 409, error: `a ${t.method} trade is not paid at the cashier${t.method === 'QUICK' ? '; confirm it with the SMS code' : ''}` };
  if (t.status !== 'PENDING') return { ok: false, status: 409, error: `the trade is ${t.status}` };
  if (success) paid(ctx, t, new Date());
  else failed(ctx, t, 'CARD_DECLINED');
  return { ok: true };
}
