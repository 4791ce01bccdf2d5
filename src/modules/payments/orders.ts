/**
 * Payment orders (支付订单): created by a signed merchant request, unique per merchant order number
 * — a repeat with the same content returns the same order, different content is refused.
 */
import { fail, ok } from '../../kernel/errors.js';
import { businessNo } from '../../kernel/ids.js';
import { checkCurrency, MAX_AMOUNT_MINOR } from '../../kernel/money.js';
import { isStorableDeep, isStorableText } from '../../kernel/text.js';
import { PAY_METHODS } from '../channels/index.js';
import { isUrlWithinDomains } from '../parties/index.js';
import { requestHash, type Ctx, type PaymentsResult } from './context.js';
import * as store from './payments.store.js';
import type { PaymentOrder, Strategy } from './types.js';

/** Methods an order may offer: the channel methods, plus the internal instruments. */
export const ORDER_METHODS: readonly string[] = [...PAY_METHODS, 'card', 'balance'];

export interface CreateOrderInput {
  merchantId: bigint;
  merchantOrderNo: string;
  amountMinor: bigint;
  currency?: string;
  subject: string;
  notifyUrl: string;
  returnUrl?: string;
  methods?: string[];
  expiresInMinutes?: number;
  strategy?: Strategy;
  payerCustomerId?: bigint;
  metadata?: Record<string, unknown>;
}

const ORDER_NO_RE = /^[A-Za-z0-9_\-|*@]{6,32}$/;

export async function createOrder(ctx: Ctx, inp: CreateOrderInput): Promise<PaymentsResult<{ order: PaymentOrder; created: boolean }>> {
  const bad = (m: string) => fail('invalid_order' as const, m);
  // WeChat Pay's out_trade_no rule (6-32 of letters, digits, _-|*@), the strictest of the providers.
  if (!ORDER_NO_RE.test(inp.merchantOrderNo)) return bad('merchant_order_no must be 6-32 characters of letters, digits and _-|*@');
  if (inp.amountMinor <= 0n || inp.amountMinor > MAX_AMOUNT_MINOR) return bad('amount must be a positive integer of minor units');
  const currency = inp.currency ?? 'CNY';
  if (!checkCurrency(currency).ok) return bad(`unknown currency ${currency}`);
  if (inp.subject.trim() === '' || inp.subject.length > 127 || !isStorableText(inp.subject)) return bad('subject must be 1-127 characters');
  const methods = inp.methods ?? ORDER_METHODS.filter((m) => m !== 'card' && m !== 'balance');
  if (methods.length === 0 || methods.some((m) => !ORDER_METHODS.includes(m)) || new Set(methods).size !== methods.length) return bad(`methods: a non-empty list of ${ORDER_METHODS.join(', ')}`);
  const minutes = inp.expiresInMinutes ?? ctx.defaultExpiryMinutes ?? 30;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 7 * 24 * 60) return bad('expires_in_minutes must be 1-10080');
  if (inp.metadata !== undefined && (!isStorableDeep(inp.metadata) || JSON.stringify(inp.metadata).length > 4096)) return bad('metadata must be a JSON object of at most 4 KiB');
  const m = await ctx.merchants.get(inp.merchantId, () => ctx.parties.getMerchant({ id: inp.merchantId }));
  if (!m.ok) return fail('merchant_not_found', `merchant ${inp.merchantId} does not exist`);
  if (m.value.status !== 'active') return fail('merchant_not_active', `merchant ${m.value.merchantNo} is ${m.value.status}`);
  // Notifications go only to hosts the merchant registered (no SSRF through an order).
  if (!isUrlWithinDomains(inp.notifyUrl, m.value.notifyDomains)) return fail('notify_url_not_allowed', 'notify_url must be within the merchant\'s registered notification domains');
  if (inp.returnUrl !== undefined && !isUrlWithinDomains(inp.returnUrl, m.value.notifyDomains)) return fail('notify_url_not_allowed', 'return_url must be within the merchant\'s registered domains');
  if (inp.strategy === 'topup_then_pay' && inp.payerCustomerId === undefined) return bad('the topup_then_pay strategy needs payer_customer_id (whose balance is topped up)');
  const now = ctx.clock.now();
  const id = ctx.nextId();
  const content = { amount: inp.amountMinor, currency, subject: inp.subject, notifyUrl: inp.notifyUrl, returnUrl: inp.returnUrl ?? null, methods, strategy: inp.strategy ?? 'saga', payer: inp.payerCustomerId ?? null, minutes, metadata: inp.metadata ?? {} };
  const order: PaymentOrder = {
    id, orderNo: businessNo('P', id), merchantId: inp.merchantId, merchantOrderNo: inp.merchantOrderNo, amount: inp.amountMinor, currency,
    subject: inp.subject, notifyUrl: inp.notifyUrl, returnUrl: inp.returnUrl ?? null, methods, expiresAt: new Date(now.getTime() + minutes * 60_000),
    status: 'created', strategy: inp.strategy ?? 'saga', payerCustomerId: inp.payerCustomerId ?? null, feeAmount: 0n, refundedAmount: 0n,
    failureCode: null, succeededAt: null, closedAt: null, metadata: inp.metadata ?? {}, createdAt: now, updatedAt: now,
  };
  const saved = await store.insertOrder(ctx.pool, { ...order, requestHash: requestHash(content) });
  if (!saved.inserted && saved.requestHash !== requestHash(content)) {
    return fail('order_exists_with_different_content', `merchant order ${inp.merchantOrderNo} exists with different content`, { order_no: saved.order.orderNo });
  }
  return ok({ order: saved.order, created: saved.inserted });
}

export async function getOrder(ctx: Ctx, id: bigint): Promise<PaymentsResult<PaymentOrder>> {
  const o = await store.getOrder(ctx.pool, id);
  return o ? ok(o) : fail('order_not_found', `order ${id} does not exist`);
}

/** An order as its merchant sees it: by Paycore's order number or the merchant's own. */
export async function findMerchantOrder(ctx: Ctx, merchantId: bigint, ref: { orderNo?: string; merchantOrderNo?: string }): Promise<PaymentsResult<PaymentOrder>> {
  const o = ref.orderNo !== undefined ? await store.getOrderByNo(ctx.pool, ref.orderNo) : ref.merchantOrderNo !== undefined ? await store.getOrderByMerchantNo(ctx.pool, merchantId, ref.merchantOrderNo) : undefined;
  return o && o.merchantId === merchantId ? ok(o) : fail('order_not_found', 'no such order of this merchant');
}

/** The public view of an order sent to merchants (API answers and notifications). */
export function orderView(o: PaymentOrder): Record<string, unknown> {
  return {
    order_no: o.orderNo, merchant_order_no: o.merchantOrderNo, amount: Number(o.amount), currency: o.currency, subject: o.subject, status: o.status,
    refunded_amount: Number(o.refundedAmount), fee: Number(o.feeAmount), failure_code: o.failureCode, expires_at: o.expiresAt.toISOString(),
    succeeded_at: o.succeededAt?.toISOString() ?? null, closed_at: o.closedAt?.toISOString() ?? null, created_at: o.createdAt.toISOString(),
  };
}
