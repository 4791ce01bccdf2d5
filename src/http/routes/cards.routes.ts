/** Card routes: operators manage products, stock, sales and the card lifecycle; merchants take card payments. */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { DomainError, unwrap } from '../../kernel/errors.js';
import { Secret } from '../../kernel/secret.js';
import { maskedNumber, reportCsv, type Card, type CardProduct, type CardTransaction, type Cards } from '../../modules/cards/index.js';
import type { App, AppDeps } from '../app.js';
import { registerStatuses } from '../errors.js';
import { Amount, ErrorSchema, IdString, Limit, decodeCursor, optId, page, parseId, toWire } from '../dto.js';

const op = { auth: 'operator' as const };
const write = { auth: 'operator' as const, role: 'operator' as const };
const admin = { auth: 'operator' as const, role: 'admin' as const };
const merchant = { auth: 'merchant' as const };
const security = [{ operatorToken: [] }];
const signed = [{ merchantSignature: [] }];
const tags = ['cards'];
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema };
const IdParams = Type.Object({ id: IdString });
const Key = Type.String({ minLength: 1, maxLength: 128, description: 'idempotency key of this card operation' });
const Method = Type.Enum(['cash', 'bank_transfer', 'debit_card', 'credit_card', 'channel']);
const Pin = Type.String({ minLength: 1, maxLength: 12, description: 'card PIN; never logged' });
const CardNumber = Type.String({ minLength: 12, maxLength: 40, description: 'full card number as read from the card; never logged' });

registerStatuses(400, ['invalid_product', 'invalid_pin_format', 'pin_too_simple', 'batch_too_large', 'invalid_card_prefix', 'invalid_card_length']);
registerStatuses(404, ['card_not_found', 'product_not_found', 'transaction_not_found']);
registerStatuses(422, ['holder_not_found']);
registerStatuses(409, ['card_not_in_stock', 'not_voidable', 'invalid_card_transition', 'product_exists_with_different_fields', 'card_not_active', 'card_terminated', 'card_expired', 'card_operation_pending', 'hold_not_active', 'hold_captured', 'card_has_active_holds']);

const Obj = Type.Record(Type.String(), Type.Unknown());

function cardDto(c: Card, balances?: { principalMinor: bigint; bonusMinor: bigint; purseMinor: bigint; heldMinor?: bigint }) {
  return {
    id: c.id.toString(), product_id: c.productId.toString(), masked_number: maskedNumber(c), last4: c.last4, named: c.named, status: c.status,
    holder_customer_id: c.holderCustomerId?.toString() ?? null, has_pin: c.hasPin, valid_until: c.validUntil?.toISOString() ?? null,
    sold_at: c.soldAt?.toISOString() ?? null, replaced_by: c.replacedBy?.toString() ?? null, replaced_from: c.replacedFrom?.toString() ?? null,
    batch_id: c.batchId.toString(), created_at: c.createdAt.toISOString(),
    ...(balances ? { balances: { principal: Number(balances.principalMinor), bonus: Number(balances.bonusMinor), purse: Number(balances.purseMinor), held: Number(balances.heldMinor ?? 0n), total: Number(balances.principalMinor + balances.bonusMinor) } } : {}),
  };
}

const txDto = (t: CardTransaction) => {
  const { metadata: _m, ...rest } = t;
  return toWire(rest) as Record<string, unknown>;
};
const productDto = (p: CardProduct) => toWire(p) as Record<string, unknown>;

export function registerCardRoutes(app: App, deps: AppDeps, cards: Cards): void {
  const actor = (req: { principal?: { kind: string; id?: string } }): string => (req.principal?.kind === 'operator' ? (req.principal.id ?? '') : '');

  app.post('/v1/card-products', {
    config: write,
    schema: {
      tags, summary: 'Create a card product (idempotent by code)', security,
      body: Type.Object({
        code: Type.String({ minLength: 1, maxLength: 40 }), name: Type.String({ minLength: 1, maxLength: 100 }),
        issuer_kind: Type.Enum(['platform', 'merchant']), issuer_merchant_id: Type.Optional(IdString), purpose: Type.Enum(['single', 'multi']),
        named: Type.Boolean(), currency: Type.Optional(Type.String()), bin_prefix: Type.String({ pattern: '^[0-9]{1,11}$' }), number_length: Type.Integer({ minimum: 13, maximum: 19 }),
        validity_months: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])), rechargeable: Type.Boolean(),
        issuance_fee: Type.Optional(Type.Integer({ minimum: 0 })), replacement_fee: Type.Optional(Type.Integer({ minimum: 0 })),
        bonus_rules: Type.Optional(Type.Array(Type.Object({ min_recharge: Amount, bonus: Amount, valid_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'days the bonus stays spendable after the recharge; absent: as long as the card' })) }, { additionalProperties: false }), { maxItems: 20 })),
        bonus_spend_order: Type.Optional(Type.Enum(['principal_first', 'bonus_first'])), balance_limit: Type.Optional(Amount),
        policy: Type.Optional(Type.Object({
          rules: Type.Record(Type.String({ maxLength: 40 }), Type.Record(Type.String({ maxLength: 40 }), Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.Boolean(), Type.String({ maxLength: 2000 }), Type.Array(Type.String({ maxLength: 40 }), { maxItems: 10 })]))),
          allow_looser: Type.Optional(Type.Boolean()),
          looser_reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
        }, { additionalProperties: false, description: 'tuning of the regulatory default policy, e.g. {"rules":{"rechargeTransfer":{"singleRechargeMinor":200000}}}; looser values need allow_looser with a reason (see docs/cards.md)' })),
      }, { additionalProperties: false }),
      response: { 200: Obj, 201: Obj, ...errors },
    },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await cards.createProduct({
      code: b.code, name: b.name, issuerKind: b.issuer_kind as never, purpose: b.purpose as never, named: b.named, binPrefix: b.bin_prefix, numberLength: b.number_length,
      rechargeable: b.rechargeable,
      ...(b.issuer_merchant_id ? { issuerMerchantId: parseId(b.issuer_merchant_id, 'issuer_merchant_id') } : {}),
      ...(b.currency ? { currency: b.currency } : {}),
      ...(b.validity_months !== undefined ? { validityMonths: b.validity_months } : {}),
      ...(b.issuance_fee !== undefined ? { issuanceFeeMinor: BigInt(b.issuance_fee) } : {}),
      ...(b.replacement_fee !== undefined ? { replacementFeeMinor: BigInt(b.replacement_fee) } : {}),
      ...(b.bonus_rules ? { bonusRules: b.bonus_rules.map((x) => ({ minRechargeMinor: BigInt(x.min_recharge), bonusMinor: BigInt(x.bonus), ...(x.valid_days !== undefined ? { validDays: x.valid_days } : {}) })) } : {}),
      ...(b.bonus_spend_order ? { bonusSpendOrder: b.bonus_spend_order as never } : {}),
      ...(b.balance_limit !== undefined ? { balanceLimitMinor: BigInt(b.balance_limit) } : {}),
      ...(b.policy ? { policy: { rules: b.policy.rules, ...(b.policy.allow_looser !== undefined ? { allowLooser: b.policy.allow_looser } : {}), ...(b.policy.looser_reason !== undefined ? { looserReason: b.policy.looser_reason } : {}) } } : {}),
    }));
    return reply.code(r.created ? 201 : 200).send(productDto(r.product));
  });

  app.get('/v1/card-products', { config: op, schema: { tags, summary: 'List card products', security, querystring: Type.Object({ limit: Limit, cursor: Type.Optional(Type.String()) }), response: { 200: Obj, ...errors } } }, async (req) => {
    const limit = req.query.limit ?? 50;
    const after = decodeCursor(req.query.cursor);
    const rows = await cards.listProducts({ limit, ...(after !== undefined ? { afterId: after } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: p.data.map(productDto), next_cursor: p.next_cursor };
  });

  app.get('/v1/card-products/:id', { config: op, schema: { tags, summary: 'A card product with its accepting merchants', security, params: IdParams, response: { 200: Obj, ...errors } } }, async (req) => {
    const p = unwrap(await cards.getProduct(parseId(req.params.id)));
    return { ...productDto(p), accepting_merchants: (await cards.acceptingMerchants(p.id)).map(String) };
  });

  app.post('/v1/card-products/:id/merchants', {
    config: write,
    schema: { tags, summary: 'Let a merchant accept the product\'s cards', security, params: IdParams, body: Type.Object({ merchant_id: IdString }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => ({ accepting_merchants: unwrap(await cards.addAcceptingMerchant({ productId: parseId(req.params.id), merchantId: parseId(req.body.merchant_id, 'merchant_id') })).map(String) }));

  app.post('/v1/card-products/:id/batches', {
    config: write,
    schema: { tags, summary: 'Issue a batch of cards into stock (制卡入库)', security, params: IdParams, body: Type.Object({ count: Type.Integer({ minimum: 1, maximum: 1000 }) }, { additionalProperties: false }), response: { 201: Obj, ...errors } },
  }, async (req, reply) => {
    const r = unwrap(await cards.issueBatch({ productId: parseId(req.params.id), count: req.body.count }));
    return reply.code(201).send({ batch_id: r.batchId.toString(), cards: r.cards.map((c) => cardDto(c)) });
  });

  app.get('/v1/card-batches/:id/numbers', {
    config: admin,
    schema: { tags, summary: 'Full card numbers of a batch, for the card manufacturer (admin only, audited)', security, params: IdParams, response: { 200: Obj, ...errors } },
  }, async (req) => {
    const batchId = parseId(req.params.id);
    const rows = await cards.batchNumbers(batchId);
    req.log.warn({ batchId: batchId.toString(), cards: rows.length, actor: actor(req) }, 'card numbers exported');
    return { batch_id: batchId.toString(), cards: rows.map((r) => ({ card_id: r.cardId.toString(), number: r.number.reveal() })) };
  });

  app.get('/v1/cards', {
    config: op,
    schema: { tags, summary: 'List cards', security, querystring: Type.Object({ product_id: Type.Optional(IdString), status: Type.Optional(Type.String()), holder_customer_id: Type.Optional(IdString), batch_id: Type.Optional(IdString), limit: Limit, cursor: Type.Optional(Type.String()) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const q = req.query;
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor);
    const productId = optId(q.product_id, 'product_id');
    const holder = optId(q.holder_customer_id, 'holder_customer_id');
    const batchId = optId(q.batch_id, 'batch_id');
    const rows = await cards.listCards({ limit, ...(productId !== undefined ? { productId } : {}), ...(holder !== undefined ? { holderCustomerId: holder } : {}), ...(batchId !== undefined ? { batchId } : {}), ...(q.status ? { status: q.status as never } : {}), ...(after !== undefined ? { afterId: after } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: p.data.map((c) => cardDto(c)), next_cursor: p.next_cursor };
  });

  app.get('/v1/cards/:id', { config: op, schema: { tags, summary: 'A card with its balances', security, params: IdParams, response: { 200: Obj, ...errors } } }, async (req) => {
    const b = unwrap(await cards.balance(parseId(req.params.id)));
    return cardDto(b.card, b);
  });

  app.post('/v1/cards/lookup', {
    config: op,
    schema: { tags, summary: 'Find a card by its full number (a POST, so the number never sits in a URL)', security, body: Type.Object({ number: CardNumber }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => cardDto(unwrap(await cards.findCardByNumber(req.body.number))));

  app.get('/v1/cards/:id/events', { config: op, schema: { tags, summary: 'The card\'s audit trail', security, params: IdParams, response: { 200: Obj, ...errors } } }, async (req) => {
    const id = parseId(req.params.id);
    unwrap(await cards.getCard(id));
    return { data: toWire(await cards.cardEvents(id)) };
  });

  app.get('/v1/cards/:id/transactions', {
    config: op,
    schema: { tags, summary: 'Transactions of a card', security, params: IdParams, querystring: Type.Object({ kind: Type.Optional(Type.String()), from: Type.Optional(Type.String()), to: Type.Optional(Type.String()), limit: Limit, cursor: Type.Optional(Type.String()) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const q = req.query;
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor);
    const from = q.from ? new Date(q.from) : undefined;
    const to = q.to ? new Date(q.to) : undefined;
    if ((from && Number.isNaN(from.getTime())) || (to && Number.isNaN(to.getTime()))) throw new DomainError('invalid_query', 'from and to must be ISO 8601 times');
    const rows = await cards.listTransactions({ cardId: parseId(req.params.id), limit, ...(q.kind ? { kind: q.kind as never } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}), ...(after !== undefined ? { afterId: after } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: p.data.map(txDto), next_cursor: p.next_cursor };
  });

  app.post('/v1/cards/:id/sell', {
    config: write,
    schema: {
      tags, summary: 'Sell and activate a card with its initial load (policy: limits, real name, non-cash thresholds)', security, params: IdParams,
      body: Type.Object({ idempotency_key: Key, amount: Amount, payment_method: Method, buyer_kind: Type.Enum(['individual', 'organization']), buyer_real_name: Type.Boolean(), holder_customer_id: Type.Optional(IdString) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => {
    const b = req.body;
    return txDto(unwrap(await cards.sell({
      cardId: parseId(req.params.id), idempotencyKey: b.idempotency_key, amountMinor: BigInt(b.amount), paymentMethod: b.payment_method as never, buyerKind: b.buyer_kind as never,
      buyerRealName: b.buyer_real_name, actor: actor(req), ...(b.holder_customer_id ? { holderCustomerId: parseId(b.holder_customer_id, 'holder_customer_id') } : {}),
    })));
  });

  app.post('/v1/card-sales', {
    config: write,
    schema: {
      tags, summary: 'One purchase (购卡) of several cards; real-name and non-cash thresholds apply to its total', security,
      body: Type.Object({
        idempotency_key: Key, payment_method: Method, buyer_kind: Type.Enum(['individual', 'organization']), buyer_real_name: Type.Boolean(),
        buyer_customer_id: Type.Optional(IdString), holder_customer_id: Type.Optional(IdString),
        cards: Type.Array(Type.Object({ card_id: IdString, amount: Amount }, { additionalProperties: false }), { minItems: 1, maxItems: 100 }),
      }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => {
    const b = req.body;
    const r = unwrap(await cards.sellPurchase({
      idempotencyKey: b.idempotency_key, paymentMethod: b.payment_method as never, buyerKind: b.buyer_kind as never, buyerRealName: b.buyer_real_name, actor: actor(req),
      cards: b.cards.map((c) => ({ cardId: parseId(c.card_id, 'card_id'), amountMinor: BigInt(c.amount) })),
      ...(b.buyer_customer_id ? { buyerCustomerId: parseId(b.buyer_customer_id, 'buyer_customer_id') } : {}),
      ...(b.holder_customer_id ? { holderCustomerId: parseId(b.holder_customer_id, 'holder_customer_id') } : {}),
    }));
    return { sale_id: r.saleId.toString(), transactions: r.transactions.map(txDto) };
  });

  app.post('/v1/cards/:id/recharge', {
    config: write,
    schema: { tags, summary: 'Recharge a card (bonus by the product\'s rules)', security, params: IdParams, body: Type.Object({ idempotency_key: Key, amount: Amount, payment_method: Method }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => txDto(unwrap(await cards.recharge({ cardId: parseId(req.params.id), idempotencyKey: req.body.idempotency_key, amountMinor: BigInt(req.body.amount), paymentMethod: req.body.payment_method as never }))));

  app.post('/v1/cards/:id/consume', {
    config: write,
    schema: { tags, summary: 'Consume at a merchant on its behalf (counter sale); terminals use /v1/merchant/card-payments', security, params: IdParams, body: Type.Object({ idempotency_key: Key, amount: Amount, merchant_id: IdString, terminal_id: Type.Optional(Type.String({ maxLength: 64 })), pin: Type.Optional(Pin) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const b = req.body;
    return txDto(unwrap(await cards.consume({ cardId: parseId(req.params.id), idempotencyKey: b.idempotency_key, amountMinor: BigInt(b.amount), merchantId: parseId(b.merchant_id, 'merchant_id'), ...(b.terminal_id ? { terminalId: b.terminal_id } : {}), ...(b.pin ? { pin: new Secret(b.pin) } : {}) })));
  });

  app.post('/v1/cards/:id/pin', {
    config: write,
    schema: { tags, summary: 'Set or reset the card PIN (6 digits, not trivial)', security, params: IdParams, body: Type.Object({ pin: Pin }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => cardDto(unwrap(await cards.setPin({ cardId: parseId(req.params.id), pin: new Secret(req.body.pin) }))));

  app.post('/v1/cards/:id/events', {
    config: write,
    schema: {
      tags, summary: 'Change the card state: freeze, unfreeze, report_loss (预挂失), confirm_loss, cancel_loss_report, reactivate', security, params: IdParams,
      body: Type.Object({ event: Type.Enum(['freeze', 'unfreeze', 'report_loss', 'confirm_loss', 'cancel_loss_report', 'reactivate']), reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => cardDto(unwrap(await cards.changeState({ cardId: parseId(req.params.id), event: req.body.event as never, reason: req.body.reason, actor: actor(req) }))));

  app.post('/v1/cards/:id/replace', {
    config: write,
    schema: { tags, summary: 'Replace a card (补卡): balance, bonus and holder move to a new card; the old one is terminated', security, params: IdParams, body: Type.Object({ idempotency_key: Key, payment_method: Method, reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const r = unwrap(await cards.replace({ cardId: parseId(req.params.id), idempotencyKey: req.body.idempotency_key, paymentMethod: req.body.payment_method as never, reason: req.body.reason, actor: actor(req) }));
    return { old_card: cardDto(r.oldCard), new_card: cardDto(r.newCard), transaction: txDto(r.transaction) };
  });

  app.post('/v1/cards/:id/redeem', {
    config: write,
    schema: {
      tags, summary: 'Redeem (赎回) a named card: principal paid out to the holder, bonus cancelled, card closed', security, params: IdParams,
      body: Type.Object({ idempotency_key: Key, method: Type.Enum(['bank_account', 'cash']), holder_name_matches: Type.Boolean({ description: 'the receiving bank account is in the holder\'s name' }), reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => txDto(unwrap(await cards.redeem({ cardId: parseId(req.params.id), idempotencyKey: req.body.idempotency_key, method: req.body.method as never, holderNameMatches: req.body.holder_name_matches, reason: req.body.reason, actor: actor(req) }))));

  app.post('/v1/card-transactions/:id/refund', {
    config: write,
    schema: { tags, summary: 'Refund a consume, fully or in part, to the card (or its replacement)', security, params: IdParams, body: Type.Object({ idempotency_key: Key, amount: Amount }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => txDto(unwrap(await cards.refund({ idempotencyKey: req.body.idempotency_key, transactionId: parseId(req.params.id), amountMinor: BigInt(req.body.amount) }))));

  // ---- merchant terminals -----------------------------------------------------------------

  const merchantOf = (req: { principal?: { kind: string; merchantId?: bigint } }): bigint => {
    if (req.principal?.kind !== 'merchant' || req.principal.merchantId === undefined) throw new DomainError('unauthorized', 'a signed merchant request is required');
    return req.principal.merchantId;
  };

  app.post('/v1/merchant/card-payments', {
    config: merchant,
    schema: { tags, summary: 'Card payment at a terminal (联机消费)', security: signed, body: Type.Object({ idempotency_key: Key, card_number: CardNumber, amount: Amount, terminal_id: Type.Optional(Type.String({ maxLength: 64 })), pin: Type.Optional(Pin) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const b = req.body;
    const card = unwrap(await cards.findCardByNumber(b.card_number));
    return txDto(unwrap(await cards.consume({ cardId: card.id, idempotencyKey: `m${merchantOf(req)}:${b.idempotency_key}`, amountMinor: BigInt(b.amount), merchantId: merchantOf(req), ...(b.terminal_id ? { terminalId: b.terminal_id } : {}), ...(b.pin ? { pin: new Secret(b.pin) } : {}) })));
  });

  const ownPayment = async (req: { principal?: { kind: string; merchantId?: bigint } }, id: string): Promise<CardTransaction> => {
    const t = await cards.getTransaction(parseId(id));
    if (!t.ok || t.value.merchantId !== merchantOf(req) || t.value.kind !== 'consume') throw new DomainError('transaction_not_found', 'no such payment of this merchant');
    return t.value;
  };

  app.post('/v1/merchant/card-payments/:id/void', {
    config: merchant,
    schema: { tags, summary: 'Void (撤销) a same-day card payment', security: signed, params: IdParams, body: Type.Object({ idempotency_key: Key }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const t = await ownPayment(req, req.params.id);
    return txDto(unwrap(await cards.voidConsume({ cardId: t.cardId, idempotencyKey: `m${merchantOf(req)}:${req.body.idempotency_key}`, transactionId: t.id })));
  });

  app.post('/v1/merchant/card-payments/:id/refund', {
    config: merchant,
    schema: { tags, summary: 'Refund a card payment, fully or in part', security: signed, params: IdParams, body: Type.Object({ idempotency_key: Key, amount: Amount }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const t = await ownPayment(req, req.params.id);
    return txDto(unwrap(await cards.refund({ idempotencyKey: `m${merchantOf(req)}:${req.body.idempotency_key}`, transactionId: t.id, amountMinor: BigInt(req.body.amount) })));
  });

  app.post('/v1/merchant/card-balance', {
    config: merchant,
    schema: { tags, summary: 'Balance inquiry at a terminal', security: signed, body: Type.Object({ card_number: CardNumber }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const card = unwrap(await cards.findCardByNumber(req.body.card_number));
    // A merchant that does not accept the card learns nothing about it.
    if (!(await cards.acceptingMerchants(card.productId)).includes(merchantOf(req))) throw new DomainError('card_not_found', 'no such card');
    const b = unwrap(await cards.balance(card.id));
    return { masked_number: maskedNumber(card), status: card.status, balance: Number(b.principalMinor + b.bonusMinor), valid_until: card.validUntil?.toISOString() ?? null };
  });
  app.post('/v1/cards/:id/purse-load', {
    config: write,
    schema: { tags, summary: 'Load value onto the card\'s offline e-cash purse (圈存), from its online balance', security, params: IdParams, body: Type.Object({ idempotency_key: Key, amount: Amount }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => txDto(unwrap(await cards.purseLoad({ cardId: parseId(req.params.id), idempotencyKey: req.body.idempotency_key, amountMinor: BigInt(req.body.amount) }))));

  const OfflineRecord = Type.Object({
    card_id: IdString, atc: Type.Integer({ minimum: 1, maximum: 65535 }), amount: Amount, balance_before: Type.Integer({ minimum: 0 }), balance_after: Type.Integer({ minimum: 0 }),
    terminal_id: Type.String({ minLength: 1, maxLength: 64 }), merchant_id: Type.String({ minLength: 1, maxLength: 32 }), occurred_at: Type.String({ format: 'date-time' }),
    mac: Type.String({ pattern: '^[0-9a-f]{16}$' }),
  }, { additionalProperties: false });

  app.post('/v1/merchant/offline-batches', {
    config: merchant,
    schema: {
      tags, summary: 'Upload offline e-cash debits (脱机交易上送); each applies once per card and ATC', security: signed,
      body: Type.Object({ terminal_id: Type.String({ minLength: 1, maxLength: 64 }), records: Type.Array(OfflineRecord, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => {
    const b = req.body;
    const r = unwrap(await cards.uploadOffline({
      merchantId: merchantOf(req), terminalId: b.terminal_id,
      records: b.records.map((x) => ({ cardId: x.card_id, atc: x.atc, amountMinor: BigInt(x.amount), balanceBeforeMinor: BigInt(x.balance_before), balanceAfterMinor: BigInt(x.balance_after), terminalId: x.terminal_id, merchantId: x.merchant_id, occurredAt: x.occurred_at, mac: x.mac })),
    }));
    return { applied_amount: Number(r.appliedMinor), results: r.results.map((x) => ({ card_id: x.cardId, atc: x.atc, status: x.status, ...(x.code ? { code: x.code } : {}), ...(x.message ? { message: x.message } : {}) })), gaps: r.gaps.map((g) => ({ card_id: g.cardId, from_atc: g.fromAtc, to_atc: g.toAtc })) };
  });
  // ---- reports ------------------------------------------------------------------------------

  // JSON by default; format=csv sends a CSV with a BOM so spreadsheets show Chinese text right.
  const csvOr = (reply: unknown, format: string | undefined, name: string, rows: Record<string, unknown>[]): Record<string, unknown> => {
    if (format !== 'csv') return { data: rows.map((r) => toWire(r)) };
    const r = reply as FastifyReply;
    r.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`);
    return r.send(`\uFEFF${reportCsv(rows)}`) as unknown as Record<string, unknown>;
  };
  const Format = Type.Optional(Type.Enum(['json', 'csv']));

  app.get('/v1/card-reports/outstanding', {
    config: op,
    schema: { tags, summary: 'Outstanding prepaid balance (沉淀资金) by product and issuer, now or at a past instant', security, querystring: Type.Object({ at: Type.Optional(Type.String({ format: 'date-time' })), format: Format }), response: { 200: Obj, ...errors } },
  }, async (req, reply) => csvOr(reply, req.query.format, 'outstanding', (await cards.outstandingReport(req.query.at ? new Date(req.query.at) : undefined)) as never));

  app.get('/v1/card-reports/escrow', {
    config: op,
    schema: {
      tags, summary: 'Required escrow (存管): the issuer class\'s share of the outstanding balance at the end of a quarter', security,
      querystring: Type.Object({ quarter: Type.String({ pattern: '^\\d{4}Q[1-4]$' }), ratio_a_bps: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })), ratio_b_bps: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })), ratio_c_bps: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })), format: Format }),
      response: { 200: Obj, ...errors },
    },
  }, async (req, reply) => {
    const q = req.query;
    const r = unwrap(await cards.escrowReport({ quarter: q.quarter, ratios: { ...(q.ratio_a_bps !== undefined ? { A: q.ratio_a_bps } : {}), ...(q.ratio_b_bps !== undefined ? { B: q.ratio_b_bps } : {}), ...(q.ratio_c_bps !== undefined ? { C: q.ratio_c_bps } : {}) } }));
    return csvOr(reply, q.format, `escrow-${q.quarter}`, r.rows as never);
  });

  app.get('/v1/card-reports/dormant', {
    config: op,
    schema: { tags, summary: 'Active cards with no transaction for N days, and their value', security, querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })), format: Format }), response: { 200: Obj, ...errors } },
  }, async (req, reply) => csvOr(reply, req.query.format, 'dormant', unwrap(await cards.dormantReport(req.query.days ?? 365)) as never));

  app.get('/v1/card-reports/breakage', {
    config: op,
    schema: { tags, summary: 'Value left on expired cards (breakage exposure), by product', security, querystring: Type.Object({ format: Format }), response: { 200: Obj, ...errors } },
  }, async (req, reply) => csvOr(reply, req.query.format, 'breakage', (await cards.breakageReport()) as never));
  void deps;
}
