/**
 * Payment routes: merchants create, query, close and refund orders with signed requests; channels
 * post their notifications (raw bodies, verified by the adapter); payers use the cashier (收银台);
 * operators manage channel accounts and routing rules, and look at orders, notifications and alerts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import { DomainError, unwrap } from '../../kernel/errors.js';
import { Secret } from '../../kernel/secret.js';
import type { Channels, ChannelAccountRow } from '../../modules/channels/index.js';
import { PAY_METHODS } from '../../modules/channels/index.js';
import type { LegSpec, PaymentLeg, PaymentOrder, Payments } from '../../modules/payments/index.js';
import { heldRequest, ORDER_METHODS } from '../../modules/payments/index.js';
import type { App, AppDeps } from '../app.js';
import { registerStatuses } from '../errors.js';
import { Amount, ErrorSchema, IdString, Limit, decodeCursor, page, parseId, toWire } from '../dto.js';
import { cashierPage } from './cashier.page.js';

const op = { auth: 'operator' as const };
const write = { auth: 'operator' as const, role: 'operator' as const };
const admin = { auth: 'operator' as const, role: 'admin' as const };
const merchant = { auth: 'merchant' as const };
const security = [{ operatorToken: [] }];
const signed = [{ merchantSignature: [] }];
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema };
const Obj = Type.Record(Type.String(), Type.Unknown());
const OrderNo = Type.String({ minLength: 1, maxLength: 40 });
const Method = Type.Enum([...PAY_METHODS]);
const BankCard = Type.Object({
  agreementNo: Type.Optional(Type.String({ maxLength: 64 })), cardNo: Type.Optional(Type.String({ maxLength: 32 })), holderName: Type.Optional(Type.String({ maxLength: 64 })),
  idNumber: Type.Optional(Type.String({ maxLength: 32 })), phone: Type.Optional(Type.String({ maxLength: 20 })), bankCode: Type.Optional(Type.String({ maxLength: 16 })),
}, { additionalProperties: false });

registerStatuses(409, ['order_exists_with_different_content', 'order_already_paid', 'order_closed', 'order_expired', 'order_failed', 'payment_in_progress', 'refund_exists_with_different_content', 'channel_account_exists_with_different_fields']);
registerStatuses(403, ['payer_not_authorized']);
registerStatuses(404, ['challenge_not_found']);
registerStatuses(422, ['risk_rejected', 'challenge_expired', 'challenge_code_wrong', 'challenge_failed']);
registerStatuses(409, ['statement_not_ready']);
registerStatuses(502, ['channel_unavailable']);
registerStatuses(422, ['notify_url_not_allowed', 'method_not_allowed', 'no_channel_available', 'channel_declined', 'refund_exceeds_refundable', 'merchant_balance_insufficient', 'order_not_paid', 'invalid_legs', 'sms_confirm_failed', 'merchant_not_active', 'unsupported_method', 'invalid_channel_config']);
registerStatuses(400, ['invalid_order', 'invalid_channel_account', 'invalid_routing_rule']);

/**
 * A payer's consent to spend their stored-value balance at the cashier: an HMAC of the customer id
 * that the wallet's own (operator-authenticated) backend obtains after the payer signed in, and
 * hands to the cashier. Without it a merchant could name any customer as payer and spend them.
 */
export function payerToken(key: Buffer, customerId: bigint, expiresAtSeconds: number): string {
  return `${expiresAtSeconds}.${createHmac('sha256', key).update(`payer:${customerId}:${expiresAtSeconds}`).digest('base64url').slice(0, 32)}`;
}

/** Valid for this customer and not expired (tokens live 15 minutes). */
export function checkPayerToken(key: Buffer, customerId: bigint, token: string, nowSeconds: number): boolean {
  const exp = Number(token.split('.')[0]);
  if (!Number.isSafeInteger(exp) || exp < nowSeconds) return false;
  const expected = payerToken(key, customerId, exp);
  return sameText(token, expected);
}

/**
 * Constant-time equality of a presented token and the expected one. Their byte lengths are compared
 * first: characters are not bytes, and timingSafeEqual throws on buffers of different lengths.
 */
function sameText(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The cashier link's token: an HMAC of the order number, so order numbers alone do not open cashiers. */
export function cashierToken(key: Buffer, orderNo: string): string {
  return createHmac('sha256', key).update(`cashier:${orderNo}`).digest('base64url').slice(0, 22);
}

function legDto(l: PaymentLeg, withTrace = false): Record<string, unknown> {
  return {
    id: l.id.toString(), leg_no: l.legNo, kind: l.kind, amount: Number(l.amount), status: l.status, method: l.method, channel_account_id: l.channelAccountId?.toString() ?? null,
    out_trade_no: l.outTradeNo, channel_trade_no: l.channelTradeNo, action: l.action, refunded_amount: Number(l.refundedAmount), channel_cost: Number(l.channelCost),
    failure_code: l.failureCode, failure_message: l.failureMessage, paid_at: l.paidAt?.toISOString() ?? null, card_id: l.cardId?.toString() ?? null,
    ...(withTrace ? { route_trace: l.routeTrace } : {}),
  };
}

function accountDto(a: ChannelAccountRow): Record<string, unknown> {
  const { configSealed: _c, ...rest } = a;
  return toWire(rest) as Record<string, unknown>;
}

export function registerPaymentRoutes(app: App, deps: AppDeps & { cashierKey: Buffer; publicBaseUrl: () => string }, payments: Payments, channels: Channels): void {
  const tags = ['payments'];
  const merchantOf = (req: { principal?: { kind: string; merchantId?: bigint } }): bigint => {
    if (req.principal?.kind !== 'merchant' || req.principal.merchantId === undefined) throw new DomainError('unauthorized', 'a signed merchant request is required');
    return req.principal.merchantId;
  };
  const cashierUrl = (o: PaymentOrder) => `${deps.publicBaseUrl().replace(/\/$/, '')}/cashier/${o.orderNo}?t=${cashierToken(deps.cashierKey, o.orderNo)}`;
  const orderDto = async (o: PaymentOrder, withLegs = true) => ({ ...payments.orderView(o), cashier_url: cashierUrl(o), ...(withLegs ? { legs: (await payments.legs(o.id)).map((l) => legDto(l)) } : {}) });
  const ownOrder = async (req: { principal?: { kind: string; merchantId?: bigint } }, orderNo: string) => unwrap(await payments.findMerchantOrder(merchantOf(req), { orderNo }));

  // ---- merchant API -------------------------------------------------------------------------

  app.post('/v1/merchant/orders', {
    config: merchant,
    schema: {
      tags, summary: 'Create a payment order (idempotent by merchant_order_no)', security: signed,
      body: Type.Object({
        merchant_order_no: Type.String({ minLength: 6, maxLength: 32 }), amount: Amount, currency: Type.Optional(Type.String({ minLength: 3, maxLength: 3 })),
        subject: Type.String({ minLength: 1, maxLength: 127 }), notify_url: Type.String({ minLength: 1, maxLength: 512 }), return_url: Type.Optional(Type.String({ maxLength: 512 })),
        methods: Type.Optional(Type.Array(Type.Enum([...ORDER_METHODS]), { minItems: 1, maxItems: ORDER_METHODS.length })),
        expires_in_minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 10080 })), strategy: Type.Optional(Type.Enum(['saga', 'topup_then_pay'])),
        payer_customer_id: Type.Optional(IdString), metadata: Type.Optional(Obj),
      }, { additionalProperties: false }),
      response: { 200: Obj, 201: Obj, ...errors },
    },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await payments.createOrder({
      merchantId: merchantOf(req), merchantOrderNo: b.merchant_order_no, amountMinor: BigInt(b.amount), subject: b.subject, notifyUrl: b.notify_url,
      ...(b.currency ? { currency: b.currency } : {}), ...(b.return_url ? { returnUrl: b.return_url } : {}), ...(b.methods ? { methods: b.methods } : {}),
      ...(b.expires_in_minutes ? { expiresInMinutes: b.expires_in_minutes } : {}), ...(b.strategy ? { strategy: b.strategy as 'saga' | 'topup_then_pay' } : {}),
      ...(b.payer_customer_id ? { payerCustomerId: parseId(b.payer_customer_id, 'payer_customer_id') } : {}), ...(b.metadata ? { metadata: b.metadata } : {}),
    }));
    // A new order has no legs yet.
    return reply.code(r.created ? 201 : 200).send(r.created ? { ...(await orderDto(r.order, false)), legs: [] } : await orderDto(r.order));
  });

  app.get('/v1/merchant/orders/:order_no', {
    config: merchant,
    schema: { tags, summary: 'Query an order (by Paycore order_no, or merchant_order_no with ?by=merchant)', security: signed, params: Type.Object({ order_no: OrderNo }), querystring: Type.Object({ by: Type.Optional(Type.Enum(['paycore', 'merchant'])) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const ref = req.query.by === 'merchant' ? { merchantOrderNo: req.params.order_no } : { orderNo: req.params.order_no };
    return orderDto(unwrap(await payments.findMerchantOrder(merchantOf(req), ref)));
  });

  app.post('/v1/merchant/orders/:order_no/pay', {
    config: merchant,
    schema: { tags, summary: 'Start paying an order through a channel (server-to-server, e.g. Native QR)', security: signed, params: Type.Object({ order_no: OrderNo }), body: Type.Object({ method: Method, bank_card: Type.Optional(BankCard), payer_open_id: Type.Optional(Type.String({ maxLength: 128 })), client_ip: Type.Optional(Type.String({ maxLength: 45 })) }, { additionalProperties: false }), response: { 200: Obj, 202: Obj, ...errors } },
  }, async (req, reply) => {
    const o = await ownOrder(req, req.params.order_no);
    const b = req.body;
    // Risk control as at the cashier; a step-up code goes to the payer, and the merchant passes on
    // what they type (POST .../challenge). The order's payer is the merchant's word here (no payer
    // token), so it is a claim to risk control, like the IP the merchant passes on.
    const gate = unwrap(await payments.screen({ order: o, request: heldRequest(b), ...(b.client_ip ? { clientIp: b.client_ip } : {}), channel: b.method, claimed: ['ip'] }));
    if (gate.kind === 'review') return reply.code(202).send({ outcome: 'risk_review', case_id: gate.caseId.toString(), action: null, order: await orderDto(o) });
    if (gate.kind === 'challenge') return reply.code(202).send({ outcome: 'challenge', challenge_id: gate.challengeId.toString(), action: null, order: await orderDto(o) });
    const r = unwrap(await payments.payWithChannel({ orderId: o.id, method: b.method as never, ...(b.bank_card ? { bankCard: b.bank_card } : {}), ...(b.payer_open_id ? { payerOpenId: b.payer_open_id } : {}), ...(b.client_ip ? { clientIp: b.client_ip } : {}) }));
    return reply.code(r.outcome === 'unknown' ? 202 : 200).send({ outcome: r.outcome, action: r.action, order: await orderDto(r.order) });
  });

  app.post('/v1/merchant/orders/:order_no/challenge', {
    config: merchant,
    schema: {
      tags, summary: 'Pass on the risk step-up code the payer received (after a pay answered `challenge`)', security: signed, params: Type.Object({ order_no: OrderNo }),
      body: Type.Object({ challenge_id: IdString, code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => {
    const o = await ownOrder(req, req.params.order_no);
    const r = unwrap(await payments.passChallenge({ orderId: o.id, challengeId: parseId(req.body.challenge_id, 'challenge_id'), code: req.body.code }));
    return { outcome: r.waitingForPayer ? 'cleared_submit_again' : 'cleared', action: r.action, order: await orderDto(r.order) };
  });

  app.post('/v1/merchant/orders/:order_no/close', {
    config: merchant,
    schema: { tags, summary: 'Close an unpaid order (its channel attempts are closed first)', security: signed, params: Type.Object({ order_no: OrderNo }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const o = await ownOrder(req, req.params.order_no);
    return orderDto(unwrap(await payments.closeOrder(o.id)));
  });

  app.post('/v1/merchant/orders/:order_no/refunds', {
    config: merchant,
    schema: {
      tags, summary: 'Refund an order, fully or in part (idempotent by merchant_refund_no)', security: signed, params: Type.Object({ order_no: OrderNo }),
      body: Type.Object({ merchant_refund_no: Type.String({ minLength: 1, maxLength: 64 }), amount: Amount, reason: Type.Optional(Type.String({ maxLength: 80 })), policy: Type.Optional(Type.Enum(['channel_first', 'proportional'])) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => {
    const o = await ownOrder(req, req.params.order_no);
    const b = req.body;
    const r = unwrap(await payments.refund({ orderId: o.id, merchantRefundNo: b.merchant_refund_no, amountMinor: BigInt(b.amount), ...(b.reason ? { reason: b.reason } : {}), ...(b.policy ? { policy: b.policy as 'channel_first' } : {}) }));
    const fresh = unwrap(await payments.getOrder(o.id));
    return { ...payments.refundView(r.refund, fresh), parts: r.parts.map((p) => toWire(p)) };
  });

  app.get('/v1/merchant/refunds/:merchant_refund_no', {
    config: merchant,
    schema: { tags, summary: 'Query a refund by the merchant\'s refund number', security: signed, params: Type.Object({ merchant_refund_no: Type.String({ minLength: 1, maxLength: 64 }) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const r = unwrap(await payments.getRefund(merchantOf(req), req.params.merchant_refund_no));
    const o = unwrap(await payments.getOrder(r.refund.orderId));
    return { ...payments.refundView(r.refund, o), parts: r.parts.map((p) => toWire(p)) };
  });

  app.get('/v1/platform-keys', { schema: { tags, summary: 'Paycore\'s public keys for verifying RSA-signed notifications', response: { 200: Obj } } }, async () => {
    if (!deps.parties) return { keys: [] };
    return { keys: (await deps.parties.platformPublicKeys()).map((k) => ({ key_id: k.keyId, alg: k.alg, public_key_pem: k.publicKeyPem })) };
  });

  // ---- channel notifications (raw bodies: the signature covers the exact bytes) -------------------

  void app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    sub.post('/v1/channel-notify/:id', { schema: { tags, summary: 'Asynchronous notifications from a channel (the channel account id is in the path)', params: Type.Object({ id: IdString }) } }, async (req, reply) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      const answer = await payments.channelNotification(parseId((req.params as { id: string }).id), { headers, body: typeof req.body === 'string' ? req.body : '' });
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    });
  });

  // ---- cashier (收银台) ---------------------------------------------------------------------------

  const cashierOrder = async (orderNo: string, token: string | undefined): Promise<PaymentOrder> => {
    const expected = cashierToken(deps.cashierKey, orderNo);
    if (!token || !sameText(token, expected)) throw new DomainError('order_not_found', 'no such order');
    return unwrap(await payments.getOrderByNo(orderNo));
  };
  const T = Type.Object({ t: Type.Optional(Type.String({ maxLength: 64 })) });
  const cashierState = async (o: PaymentOrder, legs?: PaymentLeg[]) => ({
    order_no: o.orderNo, subject: o.subject, amount: Number(o.amount), currency: o.currency, status: o.status, failure_code: o.failureCode,
    expires_at: o.expiresAt.toISOString(), methods: o.methods,
    action: legs ? (legs.find((l) => l.kind === 'channel' && l.status === 'pending')?.action ?? null) : await payments.pendingAction(o.id),
    return_url: o.status === 'succeeded' ? o.returnUrl : null,
  });

  app.get('/cashier/:order_no', { schema: { hide: true, params: Type.Object({ order_no: OrderNo }), querystring: T } }, async (req, reply) => {
    const o = await cashierOrder(req.params.order_no, req.query.t);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:").send(cashierPage(await cashierState(o), req.query.t ?? ''));
  });

  app.get('/cashier/:order_no/status', { schema: { tags: ['cashier'], summary: 'The order as the cashier shows it (polled)', params: Type.Object({ order_no: OrderNo }), querystring: T, response: { 200: Obj, ...errors } } }, async (req) => cashierState(await cashierOrder(req.params.order_no, req.query.t)));

  app.post('/cashier/:order_no/pay', {
    schema: {
      tags: ['cashier'], summary: 'The payer picks a method (or a combination of legs)', params: Type.Object({ order_no: OrderNo }), querystring: T,
      body: Type.Object({
        method: Type.Optional(Method), bank_card: Type.Optional(BankCard),
        legs: Type.Optional(Type.Array(Type.Object({ kind: Type.Enum(['card', 'balance', 'channel']), amount: Amount, card_id: Type.Optional(IdString), pin: Type.Optional(Type.String({ maxLength: 12 })), account_id: Type.Optional(IdString), method: Type.Optional(Method), bank_card: Type.Optional(BankCard) }, { additionalProperties: false }), { minItems: 1, maxItems: 5 })),
        payer_token: Type.Optional(Type.String({ maxLength: 64, description: 'the signed-in payer\'s token (POST /v1/customers/{id}/payer-token): consent to spend their balance, and proof to risk control that they are the order\'s payer' })),
        device_id: Type.Optional(Type.String({ maxLength: 128, description: 'the payer device\'s fingerprint, for risk control' })),
      }, { additionalProperties: false }),
      response: { 200: Obj, 202: Obj, ...errors },
    },
  }, async (req, reply) => {
    const o = await cashierOrder(req.params.order_no, req.query.t);
    const b = req.body;
    // The payer's consent comes first: a request held by risk control is carried out later
    // without them, so it must already carry it. A valid token also proves to risk control that
    // the payer is the order's payer customer, whatever the request pays with.
    const payerVerified = b.payer_token !== undefined && o.payerCustomerId !== null && checkPayerToken(deps.cashierKey, o.payerCustomerId, b.payer_token, Math.floor(deps.clock.nowMs() / 1000));
    if (b.legs?.some((l) => l.kind === 'balance') && o.methods.includes('balance') && !payerVerified) {
      throw new DomainError('payer_not_authorized', 'paying from a balance needs the payer\'s consent (payer_token)');
    }
    // The whole request is read before risk control, so that one naming nothing to pay with, or a
    // leg it cannot read, is refused as bad input rather than held for review.
    const legs: LegSpec[] | undefined = b.legs?.map((l) => {
      if (l.kind === 'card') return { kind: 'card', cardId: parseId(l.card_id ?? '', 'card_id'), amountMinor: BigInt(l.amount), ...(l.pin ? { pin: new Secret(l.pin) } : {}) };
      if (l.kind === 'balance') return { kind: 'balance', businessAccountId: parseId(l.account_id ?? '', 'account_id'), amountMinor: BigInt(l.amount) };
      if (!l.method) throw new DomainError('invalid_legs', 'a channel leg needs a method');
      return { kind: 'channel', method: l.method as never, amountMinor: BigInt(l.amount), ...(l.bank_card ? { bankCard: l.bank_card as Record<string, string> } : {}) };
    });
    if (!legs && !b.method) throw new DomainError('invalid_request', 'give method, or legs for a combined payment');
    // Risk control before anything is authorized (docs/risk.md): refuse, hold for review, or step up.
    // The first card is in the risk event; the cards module asks about any other card itself.
    const firstCard = legs?.find((l) => l.kind === 'card');
    const gate = unwrap(await payments.screen({
      order: o, request: heldRequest(b), clientIp: req.ip, ...(b.device_id ? { deviceId: b.device_id } : {}), ...(firstCard?.kind === 'card' ? { cardId: firstCard.cardId } : {}),
      channel: b.legs ? (b.legs.length === 1 ? (b.legs[0]!.method ?? b.legs[0]!.kind) : 'combined') : (b.method ?? ''), claimed: ['device'], payerVerified,
    }));
    if (gate.kind === 'review') return reply.code(202).send({ ...(await cashierState(o)), outcome: 'risk_review', case_id: gate.caseId.toString() });
    if (gate.kind === 'challenge') return reply.code(202).send({ ...(await cashierState(o)), outcome: 'challenge', challenge_id: gate.challengeId.toString() });
    if (legs) {
      const r = unwrap(await payments.payCombined({ orderId: o.id, legs, order: o }));
      return { ...(await cashierState(r.order, r.legs)), action: r.action, legs: r.legs.map((l) => legDto(l)) };
    }
    const r = unwrap(await payments.payWithChannel({ orderId: o.id, method: b.method as never, ...(b.bank_card ? { bankCard: b.bank_card } : {}), clientIp: req.ip }));
    return reply.code(r.outcome === 'unknown' ? 202 : 200).send({ ...(await cashierState(r.order)), action: r.action, outcome: r.outcome });
  });

  app.post('/cashier/:order_no/challenge', {
    schema: {
      tags: ['cashier'], summary: 'The payer answers a risk step-up with the code sent to them', params: Type.Object({ order_no: OrderNo }), querystring: T,
      body: Type.Object({ challenge_id: IdString, code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
      response: { 200: Obj, 202: Obj, ...errors },
    },
  }, async (req) => {
    const o = await cashierOrder(req.params.order_no, req.query.t);
    const r = unwrap(await payments.passChallenge({ orderId: o.id, challengeId: parseId(req.body.challenge_id, 'challenge_id'), code: req.body.code }));
    return { ...(await cashierState(r.order)), action: r.action, outcome: r.waitingForPayer ? 'cleared_submit_again' : 'cleared' };
  });

  app.post('/cashier/:order_no/confirm', {
    schema: { tags: ['cashier'], summary: 'Quick pay: the SMS code the payer received', params: Type.Object({ order_no: OrderNo }), querystring: T, body: Type.Object({ sms_code: Type.String({ minLength: 4, maxLength: 8 }) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const o = await cashierOrder(req.params.order_no, req.query.t);
    const r = unwrap(await payments.confirmSms({ orderId: o.id, smsCode: req.body.sms_code }));
    return { ...(await cashierState(r.order)), outcome: r.outcome };
  });

  // ---- operators ------------------------------------------------------------------------------

  app.post('/v1/customers/:id/payer-token', {
    config: write,
    schema: { tags, summary: 'A payer token: the signed-in payer\'s consent to spend their balance at the cashier (for the wallet backend)', security, params: Type.Object({ id: IdString }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const id = parseId(req.params.id);
    if (!deps.parties || !(await deps.parties.getCustomer({ id })).ok) throw new DomainError('customer_not_found', `customer ${id} does not exist`);
    const exp = Math.floor(deps.clock.nowMs() / 1000) + 15 * 60;
    return { customer_id: id.toString(), payer_token: payerToken(deps.cashierKey, id, exp), expires_at: new Date(exp * 1000).toISOString() };
  });

  const Fee = Type.Object({ bps: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })), fixed: Type.Optional(Type.Integer({ minimum: 0 })), min: Type.Optional(Type.Integer({ minimum: 0 })), max: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])) }, { additionalProperties: false });
  const Window = Type.Union([
    Type.Object({ kind: Type.Literal('daily'), start: Type.String({ pattern: '^[0-2][0-9]:[0-5][0-9]$' }), end: Type.String({ pattern: '^[0-2][0-9]:[0-5][0-9]$' }), timeZone: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('once'), from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }, { additionalProperties: false }),
  ]);
  const toWindows = (ws: { kind: string; start?: string; end?: string; timeZone?: string; from?: string; to?: string }[]) =>
    ws.map((w) => (w.kind === 'once' ? { kind: 'once' as const, from: new Date(w.from!), to: new Date(w.to!) } : { kind: 'daily' as const, start: w.start! as `${number}:${number}`, end: w.end! as `${number}:${number}`, timeZone: w.timeZone! }));

  app.post('/v1/channel-accounts', {
    config: admin,
    schema: {
      tags, summary: 'Add a channel account (直连 or 间连) with its credentials (stored sealed), fees, limits and maintenance windows', security,
      body: Type.Object({
        code: Type.String({ minLength: 1, maxLength: 40 }), provider: Type.Enum(['wechatpay', 'alipay', 'unionpay', 'bank']), mode: Type.Enum(['direct', 'aggregated']),
        merchant_id: Type.Optional(IdString), config: Obj, methods: Type.Array(Method, { minItems: 1 }), currencies: Type.Optional(Type.Array(Type.String({ minLength: 3, maxLength: 3 }))),
        fee: Type.Optional(Fee), per_tx_min: Type.Optional(Amount), per_tx_max: Type.Optional(Type.Union([Amount, Type.Null()])), daily_limit: Type.Optional(Type.Union([Amount, Type.Null()])),
        bank_limits: Type.Optional(Type.Record(Type.String({ maxLength: 16 }), Amount)), maintenance: Type.Optional(Type.Array(Window, { maxItems: 20 })), priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
      }, { additionalProperties: false }),
      response: { 200: Obj, 201: Obj, ...errors },
    },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await channels.createAccount({
      code: b.code, provider: b.provider as never, mode: b.mode as never, config: b.config, methods: b.methods as never,
      ...(b.merchant_id ? { merchantId: parseId(b.merchant_id, 'merchant_id') } : {}), ...(b.currencies ? { currencies: b.currencies } : {}),
      ...(b.fee ? { fee: { ...(b.fee.bps !== undefined ? { bps: b.fee.bps } : {}), ...(b.fee.fixed !== undefined ? { fixedMinor: BigInt(b.fee.fixed) } : {}), ...(b.fee.min !== undefined ? { minMinor: BigInt(b.fee.min) } : {}), ...(b.fee.max !== undefined ? { maxMinor: b.fee.max === null ? null : BigInt(b.fee.max) } : {}) } } : {}),
      ...(b.per_tx_min !== undefined ? { perTxMinMinor: BigInt(b.per_tx_min) } : {}), ...(b.per_tx_max !== undefined ? { perTxMaxMinor: b.per_tx_max === null ? null : BigInt(b.per_tx_max) } : {}),
      ...(b.daily_limit !== undefined ? { dailyLimitMinor: b.daily_limit === null ? null : BigInt(b.daily_limit) } : {}),
      ...(b.bank_limits ? { bankLimits: Object.fromEntries(Object.entries(b.bank_limits).map(([k, v]) => [k, BigInt(v)])) } : {}),
      ...(b.maintenance ? { maintenance: toWindows(b.maintenance) } : {}), ...(b.priority !== undefined ? { priority: b.priority } : {}),
    }));
    return reply.code(r.created ? 201 : 200).send(accountDto(r.account));
  });

  app.get('/v1/channel-accounts', { config: op, schema: { tags, summary: 'List channel accounts with their health', security, response: { 200: Obj, ...errors } } }, async () => {
    const now = deps.clock.now().getTime();
    return { data: (await channels.listAccounts()).map((a) => ({ ...accountDto(a), health: toWire(channels.breaker.snapshot(a.id, now)) })) };
  });

  app.post('/v1/channel-accounts/:id/status', {
    config: admin,
    schema: { tags, summary: 'Enable or disable a channel account', security, params: Type.Object({ id: IdString }), body: Type.Object({ status: Type.Enum(['active', 'disabled']) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => accountDto(unwrap(await channels.setAccountStatus(parseId(req.params.id), req.body.status as 'active'))));

  app.post('/v1/channel-accounts/:id/maintenance', {
    config: admin,
    schema: { tags, summary: 'Replace a channel account\'s maintenance windows', security, params: Type.Object({ id: IdString }), body: Type.Object({ windows: Type.Array(Window, { maxItems: 20 }) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => accountDto(unwrap(await channels.setMaintenance(parseId(req.params.id), toWindows(req.body.windows)))));

  app.post('/v1/channel-accounts/:id/breaker', {
    config: admin,
    schema: { tags, summary: 'Open (force) or reset a channel account\'s circuit breaker', security, params: Type.Object({ id: IdString }), body: Type.Object({ action: Type.Enum(['open', 'reset']), minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440 })) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const id = parseId(req.params.id);
    unwrap(await channels.getAccount(id));
    const now = deps.clock.now().getTime();
    if (req.body.action === 'open') channels.breaker.forceOpen(id, now + (req.body.minutes ?? 30) * 60_000);
    else channels.breaker.reset(id);
    return toWire(channels.breaker.snapshot(id, now)) as Record<string, unknown>;
  });

  app.get('/v1/channel-accounts/:id/statements/:date', {
    config: op,
    schema: { tags, summary: 'Download and parse the channel\'s daily statement (对账单) for a business date', security, params: Type.Object({ id: IdString, date: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const id = parseId(req.params.id);
    unwrap(await channels.getAccount(id));
    const r = await channels.statement(id, req.params.date);
    if (r.kind === 'not_ready') throw new DomainError('statement_not_ready', `the channel has no statement for ${req.params.date} yet`);
    if (r.kind === 'unknown') throw new DomainError('channel_unavailable', `the statement could not be fetched: ${r.reason}`);
    return { date: req.params.date, count: r.totals.count, totals: toWire(r.totals), lines: r.lines.map((l) => toWire(l)) };
  });

  const RuleBody = Type.Object({
    priority: Type.Integer(),
    match: Type.Object({ merchant_ids: Type.Optional(Type.Array(IdString)), methods: Type.Optional(Type.Array(Method)), min_amount: Type.Optional(Amount), max_amount: Type.Optional(Amount) }, { additionalProperties: false }),
    action: Type.Object({ prefer: Type.Optional(Type.Array(IdString)), exclude: Type.Optional(Type.Array(IdString)), strategy: Type.Optional(Type.Enum(['cost', 'success_rate', 'priority'])) }, { additionalProperties: false }),
  }, { additionalProperties: false });

  app.put('/v1/routing-rules/:id', {
    config: admin,
    schema: { tags, summary: 'Create or replace a routing rule', security, params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }), body: RuleBody, response: { 200: Obj, ...errors } },
  }, async (req) => {
    const b = req.body;
    const ids = (xs?: string[]) => xs?.map((x) => parseId(x));
    const rule = {
      id: req.params.id, priority: b.priority,
      match: { ...(b.match.merchant_ids ? { merchantIds: ids(b.match.merchant_ids)! } : {}), ...(b.match.methods ? { methods: b.match.methods as never } : {}), ...(b.match.min_amount !== undefined ? { minAmountMinor: BigInt(b.match.min_amount) } : {}), ...(b.match.max_amount !== undefined ? { maxAmountMinor: BigInt(b.match.max_amount) } : {}) },
      action: { ...(b.action.prefer ? { prefer: ids(b.action.prefer)! } : {}), ...(b.action.exclude ? { exclude: ids(b.action.exclude)! } : {}), ...(b.action.strategy ? { strategy: b.action.strategy as 'cost' } : {}) },
    };
    return toWire(unwrap(await channels.setRule(rule))) as Record<string, unknown>;
  });

  app.get('/v1/routing-rules', { config: op, schema: { tags, summary: 'List routing rules', security, response: { 200: Obj, ...errors } } }, async () => ({ data: (await channels.listRules()).map((r) => toWire(r)) }));

  app.delete('/v1/routing-rules/:id', { config: admin, schema: { tags, summary: 'Delete a routing rule', security, params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }), response: { 200: Obj, ...errors } } }, async (req) => {
    unwrap(await channels.deleteRule(req.params.id));
    return { deleted: req.params.id };
  });

  app.get('/v1/payment-orders', {
    config: op,
    schema: { tags, summary: 'List payment orders', security, querystring: Type.Object({ merchant_id: Type.Optional(IdString), status: Type.Optional(Type.Enum(['created', 'processing', 'unknown', 'succeeded', 'failed', 'closed'])), limit: Limit, cursor: Type.Optional(Type.String()) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const limit = req.query.limit ?? 50;
    const after = decodeCursor(req.query.cursor);
    const rows = await payments.listOrders({ limit, ...(req.query.merchant_id ? { merchantId: parseId(req.query.merchant_id) } : {}), ...(req.query.status ? { status: req.query.status as 'created' } : {}), ...(after !== undefined ? { afterId: after } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: await Promise.all(p.data.map(async (o) => ({ id: o.id.toString(), merchant_id: o.merchantId.toString(), ...(await orderDto(o, false)) }))), next_cursor: p.next_cursor };
  });

  app.get('/v1/payment-orders/:order_no', {
    config: op,
    schema: { tags, summary: 'One order with its legs (and their route traces), refunds and notifications', security, params: Type.Object({ order_no: OrderNo }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const o = unwrap(await payments.getOrderByNo(req.params.order_no));
    return {
      id: o.id.toString(), merchant_id: o.merchantId.toString(), ...payments.orderView(o), strategy: o.strategy,
      legs: (await payments.legs(o.id)).map((l) => legDto(l, true)),
      refunds: (await payments.refunds(o.id)).map((r) => ({ ...payments.refundView(r, o), purpose: r.purpose })),
      notifications: (await payments.listNotifications({ orderId: o.id, limit: 50 })).map((n) => toWire(n)),
      alerts: (await payments.listAlerts({ orderId: o.id, limit: 50 })).map((a) => toWire(a)),
    };
  });

  app.get('/v1/merchant-notifications', {
    config: op,
    schema: { tags, summary: 'Merchant notifications (filter dead ones with status=dead)', security, querystring: Type.Object({ merchant_id: Type.Optional(IdString), status: Type.Optional(Type.Enum(['pending', 'delivered', 'dead'])), limit: Limit, cursor: Type.Optional(Type.String()) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const limit = req.query.limit ?? 50;
    const after = decodeCursor(req.query.cursor);
    const rows = await payments.listNotifications({ limit, ...(req.query.merchant_id ? { merchantId: parseId(req.query.merchant_id) } : {}), ...(req.query.status ? { status: req.query.status } : {}), ...(after !== undefined ? { afterId: after } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: p.data.map((n) => toWire(n)), next_cursor: p.next_cursor };
  });

  app.get('/v1/merchant-notifications/:id', { config: op, schema: { tags, summary: 'A notification with every delivery attempt', security, params: Type.Object({ id: IdString }), response: { 200: Obj, ...errors } } }, async (req) => {
    const r = unwrap(await payments.notificationHistory(parseId(req.params.id)));
    return { ...(toWire(r.notification) as Record<string, unknown>), history: r.attempts.map((a) => toWire(a)) };
  });

  app.post('/v1/merchant-notifications/:id/replay', { config: write, schema: { tags, summary: 'Replay a dead-lettered notification', security, params: Type.Object({ id: IdString }), response: { 200: Obj, ...errors } } }, async (req) =>
    toWire(unwrap(await payments.replayNotification(parseId(req.params.id)))) as Record<string, unknown>);

  app.get('/v1/payment-alerts', { config: op, schema: { tags, summary: 'Alerts (forged or mismatched notifications, late payments, partial refund failures)', security, querystring: Type.Object({ open: Type.Optional(Type.Boolean()), limit: Limit }), response: { 200: Obj, ...errors } } }, async (req) => ({
    data: (await payments.listAlerts({ limit: req.query.limit ?? 50, ...(req.query.open !== undefined ? { open: req.query.open } : {}) })).map((a) => toWire(a)),
  }));
}
