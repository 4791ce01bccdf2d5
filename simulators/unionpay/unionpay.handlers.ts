/**
 * What the UnionPay simulator does with each signed request, once the fault knobs have let it
 * through: apply for a QR code (txnType 01/07), refund (04/00), cancel a same-day consume (31/00),
 * query (00), and the reconciliation-file transfer (76/01). Each handler returns the answer fields
 * (unsigned; the server signs) and may schedule follow-up work such as notifications.
 *
 * Response codes follow UnionPay's published table (see the adapter's unionpay.codes.ts). The
 * seven-digit detail codes in respMsg are the ones UnionPay's SDK demo pages cite where known
 * (订单重复[2010002], 原交易状态不正确[2040004], 与原交易信息不符[2050004]); which two-digit code
 * UnionPay uses for a refund above the refundable amount is not in the public material, and the
 * simulator uses 36 (与原交易信息不符).
 */
import type { KeyObject } from 'node:crypto';
import type { FaultDecision } from '../common/faults.js';
import { chinaStamp, chinaDate, parseChinaStamp, settleDateOf, verifyWith, type Fields } from './unionpay.protocol.js';
import type { UnionPayMerchant } from './unionpay.pki.js';
import { txnKey, type Consume, type Refund, type Txn, type UnionPayStore } from './unionpay.state.js';
import { reconciliationFile } from './unionpay.statement.js';

export interface HandlerContext {
  store: UnionPayStore;
  merchants: Map<string, { merchant: UnionPayMerchant; key: KeyObject }>;
  /** Sends the back notification for a transaction whose money moved. */
  notify(t: Txn): void;
  /** Runs `fn` later (tracked, so close() can cancel it). */
  later(fn: () => void, delayMs: number): void;
  /** How long a refund stays "processing" before it succeeds. */
  refundDelayMs: number;
}

export type Answer = { fields: Fields };

const ORDER_ID = /^[0-9A-Za-z]{8,40}$/;
const TXN_TIME = /^\d{14}$/;
const AMOUNT = /^[1-9]\d{0,11}$/;

/** The fields every answer repeats from its request. */
function echo(f: Fields): Fields {
  const out: Fields = {};
  for (const k of ['version', 'encoding', 'bizType', 'txnType', 'txnSubType', 'accessType', 'merId', 'orderId', 'txnTime', 'reqReserved']) {
    if (f[k] !== undefined) out[k] = f[k];
  }
  return out;
}

export function reply(f: Fields, respCode: string, respMsg: string, extra: Fields = {}): Answer {
  return { fields: { ...echo(f), respCode, respMsg, ...extra } };
}

/** Checks version, signMethod, merchant, certId and signature; an error answer when they fail. */
export function authenticate(ctx: HandlerContext, f: Fields): Answer | undefined {
  if (f['version'] !== '5.1.0') return reply(f, '10', '报文格式错误: version must be 5.1.0');
  if (f['signMethod'] !== '01') return reply(f, '10', '报文格式错误: signMethod must be 01');
  const m = ctx.merchants.get(f['merId'] ?? '');
  if (!m) return reply(f, '31', '商户状态不正确');
  if (f['certId'] !== m.merchant.certId || !verifyWith(f, m.key)) return reply(f, '11', '验证签名失败');
  return undefined;
}

function missing(f: Fields, names: string[]): Answer | undefined {
  const absent = names.filter((n) => !f[n]);
  return absent.length > 0 ? reply(f, '13', `报文交易要素缺失: ${absent.join(',')}`) : undefined;
}

function fingerprint(f: Fields, names: string[]): string {
  return JSON.stringify(names.map((n) => f[n] ?? null));
}

/** 消费 / 申请二维码 (01/07): a dynamic QR code the payer scans. */
export function applyQrCode(ctx: HandlerContext, f: Fields, decision: FaultDecision): Answer {
  const gap = missing(f, ['orderId', 'txnTime', 'txnAmt', 'currencyCode', 'backUrl', 'channelType']);
  if (gap) return gap;
  if (!ORDER_ID.test(f['orderId']!) || !TXN_TIME.test(f['txnTime']!) || !AMOUNT.test(f['txnAmt']!)) return reply(f, '10', '报文格式错误: orderId, txnTime or txnAmt');
  if (f['currencyCode'] !== '156') return reply(f, '10', '报文格式错误: currencyCode');
  const now = new Date();
  const payTimeout = f['payTimeout'] === undefined ? new Date(now.getTime() + 24 * 3600_000) : parseChinaStamp(f['payTimeout']);
  if (!payTimeout) return reply(f, '10', '报文格式错误: payTimeout');
  const key = txnKey(f['merId']!, f['orderId']!, f['txnTime']!);
  const print = fingerprint(f, ['txnAmt', 'currencyCode', 'backUrl', 'payTimeout']);
  const existing = ctx.store.get(key);
  if (existing) {
    // The same order sent again gets the same code; the same name with other content is refused.
    if (existing.kind === 'consume' && existing.fingerprint === print) return reply(f, '00', '成功[0000000]', { qrCode: existing.qrCode });
    return reply(f, '12', '订单重复[2010002]');
  }
  if (decision === 'decline') return reply(f, '30', '交易未通过，请尝试使用其他银联卡支付或联系95516');
  const c = ctx.store.addConsume({
    merId: f['merId']!,
    orderId: f['orderId']!,
    txnTime: f['txnTime']!,
    amountFen: Number(f['txnAmt']),
    backUrl: f['backUrl']!,
    createdAt: now,
    fingerprint: print,
    payTimeout,
    ...(f['reqReserved'] ? { reqReserved: f['reqReserved'] } : {}),
  });
  return reply(f, '00', '成功[0000000]', { qrCode: c.qrCode });
}

function findOriginal(ctx: HandlerContext, f: Fields): Consume | undefined {
  const merId = f['merId']!;
  const t = f['origQryId']
    ? ctx.store.byQueryId(merId, f['origQryId'])
    : f['origOrderId'] && f['origTxnTime']
      ? ctx.store.get(txnKey(merId, f['origOrderId'], f['origTxnTime']))
      : undefined;
  return t?.kind === 'consume' ? t : undefined;
}

/** 退货 (04/00) and 消费撤销 (31/00). */
export function refundOrCancel(ctx: HandlerContext, f: Fields, decision: FaultDecision): Answer {
  const gap = missing(f, ['orderId', 'txnTime', 'txnAmt', 'backUrl']);
  if (gap) return gap;
  if (!f['origQryId'] && !(f['origOrderId'] && f['origTxnTime'])) return reply(f, '13', '报文交易要素缺失: origQryId or origOrderId+origTxnTime');
  if (!ORDER_ID.test(f['orderId']!) || !TXN_TIME.test(f['txnTime']!) || !AMOUNT.test(f['txnAmt']!)) return reply(f, '10', '报文格式错误: orderId, txnTime or txnAmt');
  const txnType = f['txnType'] === '31' ? '31' : '04';
  const key = txnKey(f['merId']!, f['orderId']!, f['txnTime']!);
  const print = fingerprint(f, ['txnType', 'txnAmt', 'origQryId', 'origOrderId', 'origTxnTime']);
  const existing = ctx.store.get(key);
  if (existing) {
    // A refund sent again under its own orderId is the same refund: answer as the first time.
    if (existing.kind === 'refund' && existing.fingerprint === print) return reply(f, '00', '成功[0000000]', { queryId: existing.queryId });
    return reply(f, '12', '订单重复[2010002]');
  }
  const original = findOriginal(ctx, f);
  if (!original || original.status !== 'paid') return reply(f, '35', '原交易状态不正确[2040004]');
  const amountFen = Number(f['txnAmt']);
  const now = new Date();
  if (txnType === '31') {
    const sameDay = original.settleDate === settleDateOf(now);
    if (!sameDay || original.refundKeys.length > 0 || amountFen !== original.amountFen) return reply(f, '36', '与原交易信息不符[2050004]');
  } else if (amountFen > original.amountFen - original.refundedFen) {
    return reply(f, '36', '退货金额超过原交易可退金额[2050004]');
  }
  if (decision === 'decline') return reply(f, '30', '交易未通过');
  const refund = ctx.store.addRefund(
    {
      merId: f['merId']!,
      orderId: f['orderId']!,
      txnTime: f['txnTime']!,
      txnType,
      amountFen,
      backUrl: f['backUrl']!,
      createdAt: now,
      fingerprint: print,
      origKey: original.key,
      ...(f['reqReserved'] ? { reqReserved: f['reqReserved'] } : {}),
    },
    original,
  );
  // A cancellation is real-time; a refund is accepted now and completes shortly after.
  const finish = () => {
    ctx.store.completeRefund(refund, new Date());
    ctx.notify(refund);
  };
  ctx.later(finish, txnType === '31' ? 0 : ctx.refundDelayMs);
  return reply(f, '00', '成功[0000000]', { queryId: refund.queryId });
}

function origCode(t: Txn): { code: string; msg: string } {
  if (t.kind === 'refund') return t.status === 'succeeded' ? { code: '00', msg: '成功[0000000]' } : { code: '05', msg: '交易已受理，请稍后查询交易结果' };
  switch (t.status) {
    case 'paid':
      return { code: '00', msg: '成功[0000000]' };
    case 'awaiting':
      return { code: '05', msg: '交易已受理，请稍后查询交易结果' };
    case 'failed':
      return { code: t.failCode ?? '60', msg: '交易失败，详情请咨询您的发卡行' };
    case 'closed':
      return { code: t.failCode ?? '01', msg: '交易失败[订单已超过支付时间]' };
  }
}

/** The fields describing a transaction, shared by query answers and back notifications. */
export function txnFields(ctx: HandlerContext, t: Txn): Fields {
  const out: Fields = {
    orderId: t.orderId,
    txnTime: t.txnTime,
    txnAmt: String(t.amountFen),
    currencyCode: '156',
    txnType: t.kind === 'consume' ? '01' : t.txnType,
    txnSubType: t.kind === 'consume' ? '07' : '00',
  };
  // A QR order becomes a consume transaction (with its queryId and trace number) only once the
  // payer has paid or tried to.
  if (t.kind === 'refund' || t.status === 'paid' || t.status === 'failed') {
    out['queryId'] = t.queryId;
    out['traceNo'] = t.traceNo;
  }
  if (t.traceTime) out['traceTime'] = t.traceTime;
  if (t.settleDate) {
    out['settleDate'] = t.settleDate.slice(5).replace('-', '');
    out['settleAmt'] = String(t.amountFen);
    out['settleCurrencyCode'] = '156';
  }
  if (t.reqReserved) out['reqReserved'] = t.reqReserved;
  if (t.kind === 'consume' && t.accNo) {
    out['accNo'] = t.accNo;
    out['payCardType'] = '01';
  }
  if (t.kind === 'refund') {
    const original = ctx.store.get(t.origKey);
    if (original) out['origQryId'] = original.queryId;
  }
  return out;
}

/** 交易状态查询 (00): by orderId + txnTime, or by queryId. */
export function query(ctx: HandlerContext, f: Fields): Answer {
  const merId = f['merId']!;
  let t: Txn | undefined;
  if (f['queryId']) t = ctx.store.byQueryId(merId, f['queryId']);
  else if (f['orderId'] && f['txnTime']) t = ctx.store.get(txnKey(merId, f['orderId'], f['txnTime']));
  else return reply(f, '13', '报文交易要素缺失: orderId+txnTime or queryId');
  if (!t) return reply(f, '34', '查无此交易');
  const o = origCode(t);
  // The answer's own txnType/txnSubType describe the original transaction.
  return reply(f, '00', '成功[0000000]', { ...txnFields(ctx, t), origRespCode: o.code, origRespMsg: o.msg });
}

/**
 * Resolves a clearing date given as MMDD (the request carries no year): the calendar date with that
 * month and day closest to today, China time, so a date a few days ahead is recognised as not yet
 * cleared rather than taken as last year's.
 */
function resolveSettleDate(mmdd: string, now: Date): string | undefined {
  if (!/^\d{4}$/.test(mmdd)) return undefined;
  const today = chinaDate(now);
  const year = Number(today.slice(0, 4));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const y of [year - 1, year, year + 1]) {
    const candidate = `${y}-${mmdd.slice(0, 2)}-${mmdd.slice(2)}`;
    const ms = Date.parse(`${candidate}T00:00:00Z`);
    // Date.parse accepts 02-30 and rolls it over; a real calendar date must print back the same.
    if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== candidate) continue;
    const distance = Math.abs(ms - Date.parse(`${today}T00:00:00Z`));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * 文件传输 (76/01, fileType 00). Real UnionPay publishes a clearing day's file the next morning;
 * the simulator builds it on demand, so the running day's file can be fetched at once and holds
 * what has settled so far. A clearing date that has not started yet answers 98 (文件不存在).
 */
export function fileTransfer(ctx: HandlerContext, f: Fields): Answer {
  if (f['txnSubType'] !== '01' || f['fileType'] !== '00') return reply(f, '10', '报文格式错误: txnSubType 01 and fileType 00 expected', echoFile(f));
  const now = new Date();
  const settleDate = resolveSettleDate(f['settleDate'] ?? '', now);
  if (!settleDate) return reply(f, '10', '报文格式错误: settleDate', echoFile(f));
  if (settleDate > settleDateOf(now)) return reply(f, '98', '文件不存在', echoFile(f));
  const file = reconciliationFile(ctx.store, f['merId']!, settleDate);
  return reply(f, '00', '成功[0000000]', { ...echoFile(f), fileName: file.fileName, fileContent: file.fileContent });
}

function echoFile(f: Fields): Fields {
  const out: Fields = {};
  for (const k of ['fileType', 'settleDate']) if (f[k] !== undefined) out[k] = f[k];
  return out;
}

/** The view /__sim/trades/:outTradeNo shows. */
export function tradeView(ctx: HandlerContext, c: Consume): Record<string, unknown> {
  const refunds = ctx.store.refundsOf(c).map((r: Refund) => ({ orderId: r.orderId, txnTime: r.txnTime, txnType: r.txnType, amountFen: r.amountFen, status: r.status, queryId: r.queryId, settleDate: r.settleDate ?? null }));
  return {
    merId: c.merId,
    orderId: c.orderId,
    txnTime: c.txnTime,
    status: c.status,
    amountFen: c.amountFen,
    refundedFen: c.refundedFen,
    queryId: c.status === 'paid' ? c.queryId : null,
    payTimeout: chinaStamp(c.payTimeout),
    settleDate: c.settleDate ?? null,
    refunds,
  };
}
