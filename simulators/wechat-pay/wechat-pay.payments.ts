/**
 * Payment routes of the simulated APIv3: Native and JSAPI order placement (Native下单 / JSAPI下单),
 * query by out_trade_no (商户订单号查询订单), close (关闭订单), and the platform certificate list
 * (下载平台证书). Paths, fields, codes and statuses follow the published APIv3 documents:
 *
 *   POST /v3/pay/transactions/native   → 200 {"code_url": "weixin://wxpay/bizpayurl?pr=…"}
 *   POST /v3/pay/transactions/jsapi    → 200 {"prepay_id": "wx…"}
 *   GET  /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…  → 200 transaction | 404 ORDER_NOT_EXIST
 *   POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close {"mchid"} → 204
 *   GET  /v3/certificates → 200 {"data": [{serial_no, effective_time, expire_time, encrypt_certificate}]}
 *
 * Errors are {"code","message"}: 400 PARAM_ERROR / APPID_MCHID_NOT_MATCH / ORDER_CLOSED,
 * 403 OUT_TRADE_NO_USED / TRADE_ERROR, 404 ORDER_NOT_EXIST, 401 SIGN_ERROR, 429 FREQUENCY_LIMITED,
 * 500 SYSTEM_ERROR. Not confirmed in the documents, and chosen from WeChat's v2 codes and reports:
 * a repeat order or a close on a paid trade answers 400 ORDERPAID; a close of an unknown
 * out_trade_no answers 204 (as developers report the real API does).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { answer, fail, guarded, jsonBody, lose, type MerchantRecord, type SimContext } from './wechat-pay.context.js';
import { transactionResource } from './wechat-pay.resources.js';
import { encryptResource } from './wechat-pay.sign.js';
import type { NewTrade, TradeType } from './wechat-pay.state.js';
import { chinaRfc3339, parseRfc3339 } from './wechat-pay.time.js';

const OUT_TRADE_NO_RE = /^[0-9A-Za-z_\-*|]{6,32}$/;
/** Without time_expire an order can be paid for seven days. */
const DEFAULT_EXPIRY_MS = 7 * 86_400_000;

type Invalid = { ok: false; status: number; code: string; message: string };
const invalid = (message: string, code = 'PARAM_ERROR', status = 400): Invalid => ({ ok: false, status, code, message });

function chars(v: unknown): number {
  return typeof v === 'string' ? [...v].length : -1;
}

function validateOrder(body: Record<string, unknown> | undefined, m: MerchantRecord, type: TradeType, now: Date): { ok: true; order: NewTrade } | Invalid {
  if (!body) return invalid('请求体不是合法的JSON对象');
  const { appid, mchid, description, out_trade_no: outTradeNo, notify_url: notifyUrl, attach, time_expire: timeExpire } = body;
  if (typeof appid !== 'string' || appid === '') return invalid('缺少参数 appid');
  if (mchid !== m.merchant.mchid) return invalid('mchid 与 Authorization 中的商户号不一致');
  if (appid !== m.merchant.appid) return invalid('AppID和mch_id不匹配', 'APPID_MCHID_NOT_MATCH');
  if (chars(description) < 1 || chars(description) > 127) return invalid('description 长度应为1-127');
  if (typeof outTradeNo !== 'string' || !OUT_TRADE_NO_RE.test(outTradeNo)) return invalid('out_trade_no 只能是数字、大小写字母_-*|，长度6-32');
  if (attach !== undefined && (chars(attach) < 0 || chars(attach) > 128)) return invalid('attach 长度不能超过128');
  let url: URL | undefined;
  try {
    url = typeof notifyUrl === 'string' ? new URL(notifyUrl) : undefined;
  } catch {
    url = undefined;
  }
  // WeChat requires HTTPS on public domains; the simulator accepts http so loopback test servers work.
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || chars(notifyUrl) > 255) return invalid('notify_url 格式不正确，且不能携带参数');
  const amount = body['amount'];
  const total = typeof amount === 'object' && amount !== null ? (amount as Record<string, unknown>)['total'] : undefined;
  const currency = typeof amount === 'object' && amount !== null ? (amount as Record<string, unknown>)['currency'] : undefined;
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 1) return invalid('amount.total 必须为正整数（单位：分）');
  if (currency !== undefined && currency !== 'CNY') return invalid('amount.currency 仅支持 CNY');
  let expireAt = new Date(now.getTime() + DEFAULT_EXPIRY_MS);
  if (timeExpire !== undefined) {
    const parsed = parseRfc3339(timeExpire);
    if (!parsed) return invalid('time_expire 格式不正确，应遵循 rfc3339');
    if (parsed.getTime() <= now.getTime()) return invalid('time_expire 不能早于当前时间');
    expireAt = parsed;
  }
  let openid: string | undefined;
  if (type === 'JSAPI') {
    const payer = body['payer'];
    openid = typeof payer === 'object' && payer !== null ? ((payer as Record<string, unknown>)['openid'] as string | undefined) : undefined;
    if (typeof openid !== 'string' || openid === '') return invalid('JSAPI 下单缺少参数 payer.openid');
  }
  return {
    ok: true,
    order: { mchid: m.merchant.mchid, appid, outTradeNo, tradeType: type, description: description as string, notifyUrl: url.toString(), totalMinor: total, expireAt, ...(typeof attach === 'string' ? { attach } : {}), ...(openid ? { openid } : {}) },
  };
}

function placeOrder(ctx: SimContext, type: TradeType) {
  return (req: FastifyRequest, reply: FastifyReply) =>
    guarded(ctx, req, reply, true, (m, decision) => {
      const now = new Date();
      const v = validateOrder(jsonBody(req), m, type, now);
      if (!v.ok) return fail(ctx, reply, v.status, v.code, v.message);
      if (decision === 'decline') return fail(ctx, reply, 403, 'TRADE_ERROR', '交易错误：商户当前交易受限，请稍后再试');
      const r = ctx.state.create(v.order, now);
      switch (r.kind) {
        case 'conflict':
          return fail(ctx, reply, 403, 'OUT_TRADE_NO_USED', '商户订单号重复');
        case 'closed':
          return fail(ctx, reply, 400, 'ORDER_CLOSED', '订单已关闭');
        case 'paid':
          return fail(ctx, reply, 400, 'ORDERPAID', '该订单已支付');
        case 'created':
        case 'existing':
          if (decision === 'unknown_outcome') return lose(ctx, req, reply);
          return answer(ctx, reply, 200, type === 'NATIVE' ? { code_url: r.trade.codeUrl } : { prepay_id: r.trade.prepayId });
      }
    });
}

type OutTradeNoParams = { Params: { outTradeNo: string }; Querystring: Record<string, string | undefined> };

export function registerPaymentRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.post('/v3/pay/transactions/native', placeOrder(ctx, 'NATIVE'));
  app.post('/v3/pay/transactions/jsapi', placeOrder(ctx, 'JSAPI'));

  app.get<OutTradeNoParams>('/v3/pay/transactions/out-trade-no/:outTradeNo', (req, reply) =>
    guarded(ctx, req, reply, false, (m) => {
      if (req.query['mchid'] !== m.merchant.mchid) return fail(ctx, reply, 400, 'PARAM_ERROR', 'mchid 参数缺失或与 Authorization 中的商户号不一致');
      const t = ctx.state.get(m.merchant.mchid, req.params.outTradeNo);
      if (!t) return fail(ctx, reply, 404, 'ORDER_NOT_EXIST', '订单不存在');
      return answer(ctx, reply, 200, transactionResource(t));
    }),
  );

  app.post<OutTradeNoParams>('/v3/pay/transactions/out-trade-no/:outTradeNo/close', (req, reply) =>
    guarded(ctx, req, reply, false, (m) => {
      const body = jsonBody(req);
      if (body?.['mchid'] !== m.merchant.mchid) return fail(ctx, reply, 400, 'PARAM_ERROR', 'mchid 参数缺失或与 Authorization 中的商户号不一致');
      const t = ctx.state.get(m.merchant.mchid, req.params.outTradeNo);
      if (t && ctx.state.close(t) === 'paid') return fail(ctx, reply, 400, 'ORDERPAID', '订单已支付，不能关单');
      return answer(ctx, reply, 204);
    }),
  );

  app.get('/v3/certificates', (req, reply) =>
    guarded(ctx, req, reply, false, (m) => {
      const p = ctx.platform;
      const entry = {
        serial_no: p.serialNo,
        effective_time: chinaRfc3339(p.notBefore),
        expire_time: chinaRfc3339(p.notAfter),
        encrypt_certificate: encryptResource(m.merchant.apiV3Key, p.certificatePem, 'certificate'),
      };
      return answer(ctx, reply, 200, { data: [entry] });
    }),
  );
}

