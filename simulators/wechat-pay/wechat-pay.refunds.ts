/**
 * Refund routes of the simulated APIv3 (申请退款 / 查询单笔退款):
 *
 *   POST /v3/refund/domestic/refunds {out_trade_no | transaction_id, out_refund_no, reason?, notify_url?,
 *        amount: {refund, total, currency}}  → 200 refund (status PROCESSING)
 *   GET  /v3/refund/domestic/refunds/{out_refund_no}  → 200 refund | 404 RESOURCE_NOT_EXISTS
 *
 * A refund is accepted as PROCESSING and succeeds shortly after (REFUND.SUCCESS is then sent to its
 * notify_url); the control endpoint can instead make it ABNORMAL or CLOSED. A repeated
 * out_refund_no returns the existing refund. Refusals: 404 RESOURCE_NOT_EXISTS (no such trade),
 * 400 INVALID_REQUEST for business rules — trade not paid, total differing from the order, more than
 * the refundable amount (WeChat's v2 wording is "refund_fee大于可退金额"; the v3 message text is
 * not documented), over 50 refunds, or the same out_refund_no with another amount — and the
 * decline fault answers 403 NOT_ENOUGH (商户余额不足).
 */
import type { FastifyInstance } from 'fastify';
import { answer, fail, guarded, jsonBody, lose, type SimContext } from './wechat-pay.context.js';
import { notifyRefund, refundResource } from './wechat-pay.resources.js';
import type { SimRefund, SimTrade } from './wechat-pay.state.js';

const OUT_REFUND_NO_RE = /^[0-9A-Za-z_\-|*@]{1,64}$/;

function num(o: unknown, k: string): unknown {
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined;
}

function isAmount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/** Settles a PROCESSING refund and notifies; used by the timer and the control endpoint. */
export function settleRefund(ctx: SimContext, t: SimTrade, r: SimRefund, status: 'SUCCESS' | 'ABNORMAL' | 'CLOSED'): boolean {
  if (!ctx.state.settleRefund(r, status, new Date())) return false;
  notifyRefund(ctx, t, r);
  return true;
}

export function registerRefundRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.post('/v3/refund/domestic/refunds', (req, reply) =>
    guarded(ctx, req, reply, true, (m, decision) => {
      const body = jsonBody(req);
      if (!body) return fail(ctx, reply, 400, 'PARAM_ERROR', '请求体不是合法的JSON对象');
      const { out_trade_no: outTradeNo, transaction_id: transactionId, out_refund_no: outRefundNo, reason, notify_url: notifyUrl } = body;
      const refund = num(body['amount'], 'refund');
      const total = num(body['amount'], 'total');
      const currency = num(body['amount'], 'currency');
      if (typeof outTradeNo !== 'string' && typeof transactionId !== 'string') return fail(ctx, reply, 400, 'PARAM_ERROR', 'out_trade_no 与 transaction_id 必须二选一');
      if (typeof outRefundNo !== 'string' || !OUT_REFUND_NO_RE.test(outRefundNo)) return fail(ctx, reply, 400, 'PARAM_ERROR', 'out_refund_no 只能是数字、大小写字母_-|*@，长度1-64');
      if (!isAmount(refund) || !isAmount(total)) return fail(ctx, reply, 400, 'PARAM_ERROR', 'amount.refund 与 amount.total 必须为正整数（单位：分）');
      if (currency !== 'CNY') return fail(ctx, reply, 400, 'PARAM_ERROR', 'amount.currency 仅支持 CNY');
      if (reason !== undefined && (typeof reason !== 'string' || [...reason].length > 80)) return fail(ctx, reply, 400, 'PARAM_ERROR', 'reason 长度不能超过80');
      if (notifyUrl !== undefined && typeof notifyUrl !== 'string') return fail(ctx, reply, 400, 'PARAM_ERROR', 'notify_url 格式不正确');
      const t = typeof outTradeNo === 'string' ? ctx.state.get(m.merchant.mchid, outTradeNo) : ctx.state.findByTransactionId(m.merchant.mchid, transactionId as string);
      if (!t) return fail(ctx, reply, 404, 'RESOURCE_NOT_EXISTS', '订单不存在');
      const existing = ctx.state.getRefund(m.merchant.mchid, outRefundNo);
      if (!existing && decision === 'decline') return fail(ctx, reply, 403, 'NOT_ENOUGH', '基本账户余额不足，请充值后重新发起');
      const r = ctx.state.addRefund(t, { outRefundNo, refundMinor: refund, totalMinor: total, ...(reason ? { reason } : {}), ...(notifyUrl ? { notifyUrl } : {}) }, new Date());
      switch (r.kind) {
        case 'conflict':
          return fail(ctx, reply, 400, 'INVALID_REQUEST', '同一退款单号的退款金额或订单号与之前的请求不一致');
        case 'not_paid':
          return fail(ctx, reply, 400, 'INVALID_REQUEST', '订单未支付成功，不能退款');
        case 'total_mismatch':
          return fail(ctx, reply, 400, 'INVALID_REQUEST', 'amount.total 与原订单金额不一致');
        case 'too_many':
          return fail(ctx, reply, 400, 'INVALID_REQUEST', '订单部分退款次数超过50次');
        case 'exceeds':
          return fail(ctx, reply, 400, 'INVALID_REQUEST', `申请退款金额超过订单可退金额（可退 ${r.refundableMinor} 分）`);
        case 'existing':
          return answer(ctx, reply, 200, refundResource(t, r.refund));
        case 'created': {
          const created = r.refund;
          if (ctx.refundDelayMs >= 0) ctx.later(ctx.refundDelayMs, () => settleRefund(ctx, t, created, 'SUCCESS'));
          if (decision === 'unknown_outcome') return lose(ctx, req, reply);
          return answer(ctx, reply, 200, refundResource(t, created));
        }
      }
    }),
  );

  app.get<{ Params: { outRefundNo: string } }>('/v3/refund/domestic/refunds/:outRefundNo', (req, reply) =>
    guarded(ctx, req, reply, false, (m) => {
      const found = ctx.state.getRefund(m.merchant.mchid, req.params.outRefundNo);
      if (!found) return fail(ctx, reply, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
      return answer(ctx, reply, 200, refundResource(found.trade, found.refund));
    }),
  );
}

