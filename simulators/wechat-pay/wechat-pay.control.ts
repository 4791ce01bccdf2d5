/**
 * Control endpoints (not part of WeChat's protocol), JSON in and out, under /__sim/:
 *
 *   GET  /__sim/faults, POST /__sim/faults (partial Faults)
 *   POST /__sim/trades/:outTradeNo/pay {"result": "success" | "fail" | "userpaying", "mchid"?}
 *        the payer acts: success pays the order and sends TRANSACTION.SUCCESS; fail leaves it
 *        PAYERROR (WeChat documents PAYERROR for code payments; for Native/JSAPI a failed attempt
 *        is not notified either); userpaying shows USERPAYING until a later success or fail.
 *   GET  /__sim/trades/:outTradeNo   the simulator's own view of a trade and its refunds
 *   POST /__sim/refunds/:outRefundNo/result {"result": "success" | "abnormal" | "closed"}
 *   GET  /__sim/notifications         the notifier's delivery attempts
 *   POST /__sim/reset                 forget trades, bills and notifications; faults back to none
 */
import type { FastifyInstance } from 'fastify';
import { updateFaults, type Faults } from '../common/faults.js';
import { jsonBody, type SimContext } from './wechat-pay.context.js';
import { settleRefund } from './wechat-pay.refunds.js';
import { notifyPayment } from './wechat-pay.resources.js';
import { WechatPayState, type PayOutcome, type SimTrade } from './wechat-pay.state.js';

export interface ControlHooks {
  setFaults(f: Faults): void;
  reset(): void;
}

function tradeView(t: SimTrade, now: Date): Record<string, unknown> {
  return {
    mchid: t.mchid,
    outTradeNo: t.outTradeNo,
    tradeType: t.tradeType,
    state: WechatPayState.visibleState(t),
    amountMinor: t.totalMinor,
    refundedMinor: t.totalMinor - WechatPayState.refundableMinor(t),
    transactionId: t.transactionId ?? null,
    successTime: t.successAt?.toISOString() ?? null,
    expireTime: t.expireAt.toISOString(),
    expired: t.state !== 'SUCCESS' && now.getTime() > t.expireAt.getTime(),
    refunds: t.refunds.map((r) => ({ outRefundNo: r.outRefundNo, refundId: r.refundId, amountMinor: r.refundMinor, status: r.status, createTime: r.createdAt.toISOString() })),
  };
}

const PAY_OUTCOMES: readonly PayOutcome[] = ['success', 'fail', 'userpaying'];
const REFUND_RESULTS = { success: 'SUCCESS', abnormal: 'ABNORMAL', closed: 'CLOSED' } as const;

export function registerControlRoutes(app: FastifyInstance, ctx: SimContext, hooks: ControlHooks): void {
  app.get('/__sim/faults', () => ctx.faults());

  app.post('/__sim/faults', (req, reply) => {
    const r = updateFaults(ctx.faults(), jsonBody(req) ?? null);
    if (!r.ok) return reply.code(400).send({ error: r.message });
    hooks.setFaults(r.faults);
    return r.faults;
  });

  app.post<{ Params: { outTradeNo: string } }>('/__sim/trades/:outTradeNo/pay', (req, reply) => {
    const body = jsonBody(req) ?? {};
    const outcome = (body['result'] ?? 'success') as PayOutcome;
    if (!PAY_OUTCOMES.includes(outcome)) return reply.code(400).send({ error: 'result must be success, fail or userpaying' });
    const t = ctx.state.find(req.params.outTradeNo, typeof body['mchid'] === 'string' ? body['mchid'] : undefined);
    if (!t) return reply.code(404).send({ error: 'no such trade' });
    const now = new Date();
    const r = ctx.state.pay(t, outcome, now);
    if (!r.ok) return reply.code(409).send({ error: `trade cannot be paid: ${r.reason}`, trade: tradeView(t, now) });
    if (r.newlyPaid) notifyPayment(ctx, t);
    return tradeView(t, now);
  });

  app.get<{ Params: { outTradeNo: string } }>('/__sim/trades/:outTradeNo', (req, reply) => {
    const t = ctx.state.find(req.params.outTradeNo);
    return t ? tradeView(t, new Date()) : reply.code(404).send({ error: 'no such trade' });
  });

  app.post<{ Params: { outRefundNo: string } }>('/__sim/refunds/:outRefundNo/result', (req, reply) => {
    const result = jsonBody(req)?.['result'];
    if (result !== 'success' && result !== 'abnormal' && result !== 'closed') return reply.code(400).send({ error: 'result must be success, abnormal or closed' });
    const found = ctx.state.findRefund(req.params.outRefundNo);
    if (!found) return reply.code(404).send({ error: 'no such refund' });
    if (!settleRefund(ctx, found.trade, found.refund, REFUND_RESULTS[result])) return reply.code(409).send({ error: `refund is already ${found.refund.status}` });
    return tradeView(found.trade, new Date());
  });

  app.get('/__sim/notifications', () => ctx.notifier().attempts.map((a) => ({ ...a, at: a.at.toISOString() })));

  app.post('/__sim/reset', () => {
    hooks.reset();
    return { ok: true };
  });
}
