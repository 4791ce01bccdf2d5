// Proves combined payments (组合支付) over real HTTP with the WeChat Pay simulator: card + channel succeeds as a whole; a failed channel leg releases the card hold; a hold that cannot be captured after the channel was paid gives the channel money back; topup_then_pay pays locally from the topped-up balance; the ledger stays balanced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulators, type Simulators } from '../simulators/index.js';
import { sampleResidentId } from '../src/modules/parties/index.js';
import { createTestMerchant, type TestMerchant } from './support/merchant.js';
import { startTestServer, type TestServer } from './support/server.js';
import { cashierPath, okClient, until } from './support/waiting.js';

let s: TestServer;
let sims: Simulators;
let m: TestMerchant;
let productId: string;
let n = 0;
const ok = okClient(() => s);

async function order(amount: number, extra: Record<string, unknown> = {}): Promise<any> {
  const r = await m.signed('POST', '/v1/merchant/orders', { merchant_order_no: `CMB${Date.now()}${++n}`, amount, subject: '组合支付', notify_url: 'http://127.0.0.1:9/n', methods: ['card', 'balance', 'wechat_native'], ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

const cashier = cashierPath;

async function soldCard(amount: number): Promise<string> {
  const card = (await ok('POST', `/v1/card-products/${productId}/batches`, { count: 1 })).cards[0].id;
  await ok('POST', `/v1/cards/${card}/sell`, { idempotency_key: `sell-${card}`, amount, payment_method: 'bank_transfer', buyer_kind: 'individual', buyer_real_name: true });
  return card;
}

const cardBalance = async (id: string): Promise<{ principal: number; held: number }> => {
  const c = await ok('GET', `/v1/cards/${id}`);
  return { principal: c.balances.principal, held: c.balances.held ?? 0 };
};

async function payerPays(o: any, result: 'success' | 'fail' = 'success'): Promise<void> {
  const legs = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs;
  const leg = legs.find((l: any) => l.kind === 'channel' && l.status === 'pending');
  const r = await fetch(`${sims.wechatpay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result }) });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  sims = await startSimulators({ notifyRetryScheduleMs: [100, 200, 400] });
  s = await startTestServer({ PAYCORE_JOB_INTERVAL_MS: '100', PAYCORE_QUERY_BACKOFF_MS: '150,300,600', PAYCORE_NOTIFY_SCHEDULE_MS: '0,100', PAYCORE_CHANNEL_TIMEOUT_MS: '2000' });
  m = await createTestMerchant(s, { n: 501 });
  await ok('POST', '/v1/channel-accounts', { code: 'wx', provider: 'wechatpay', mode: 'aggregated', config: sims.wechatpay.config, methods: ['wechat_native'], fee: { bps: 20 } });
  productId = (await ok('POST', '/v1/card-products', { code: 'CMB', name: '组合卡', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6601', number_length: 16, rechargeable: true, validity_months: 36 })).id;
  await ok('POST', `/v1/card-products/${productId}/merchants`, { merchant_id: m.id });
}, 120_000);

afterAll(async () => {
  await s?.close();
  await sims?.close();
});

describe('combined payments', () => {
  it('pays card 60 + WeChat 40 as a whole: the card is held first and captured only when WeChat paid', async () => {
    const card = await soldCard(50_000);
    const o = await order(1000);
    const r = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 600 }, { kind: 'channel', method: 'wechat_native', amount: 400 }] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.action.type).toBe('qr_code');
    expect(r.body.legs.map((l: any) => [l.kind, l.status])).toEqual([['card', 'held'], ['channel', 'pending']]);
    expect((await cardBalance(card)).held).toBe(600);
    await payerPays(o);
    await until('order paid', async () => (await m.signed('GET', `/v1/merchant/orders/${o.order_no}`)).body.status === 'succeeded');
    const detail = await ok('GET', `/v1/payment-orders/${o.order_no}`);
    expect(detail.legs.map((l: any) => l.status)).toEqual(['succeeded', 'succeeded']);
    expect(await cardBalance(card)).toEqual({ principal: 49_400, held: 0 });
  });

  it('releases the card hold when the WeChat leg fails; the order can be paid again', async () => {
    const card = await soldCard(50_000);
    const o = await order(1000);
    await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 600 }, { kind: 'channel', method: 'wechat_native', amount: 400 }] });
    await payerPays(o, 'fail');
    const back = await until('order reopened', async () => {
      const b = (await m.signed('GET', `/v1/merchant/orders/${o.order_no}`)).body;
      return b.status === 'created' ? b : undefined;
    });
    expect(back.failure_code).toBe('combined_payment_failed');
    expect(await cardBalance(card)).toEqual({ principal: 50_000, held: 0 });
    const again = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1000 }] });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.status).toBe('succeeded');
    expect((await cardBalance(card)).principal).toBe(49_000);
  });

  it('after a failed combined payment the order can be paid by a channel alone, or closed by the merchant', async () => {
    const card = await soldCard(50_000);
    for (const next of ['channel', 'close'] as const) {
      const o = await order(1000);
      await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 600 }, { kind: 'channel', method: 'wechat_native', amount: 400 }] });
      await payerPays(o, 'fail');
      await until('order reopened', async () => (await m.signed('GET', `/v1/merchant/orders/${o.order_no}`)).body.status === 'created');
      if (next === 'channel') {
        const r = await s.req('POST', cashier(o, '/pay'), { method: 'wechat_native' });
        expect(r.body.action?.type, JSON.stringify(r.body)).toBe('qr_code');
        await payerPays(o);
        await until('paid by WeChat alone', async () => (await m.signed('GET', `/v1/merchant/orders/${o.order_no}`)).body.status === 'succeeded');
      } else {
        const c = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/close`, {});
        expect([c.status, c.body.status], JSON.stringify(c.body)).toEqual([200, 'closed']);
      }
    }
    expect(await cardBalance(card)).toEqual({ principal: 50_000, held: 0 });
  });

  it('gives the WeChat money back when the card hold cannot be captured (card frozen meanwhile)', async () => {
    const card = await soldCard(50_000);
    const o = await order(1000);
    await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 600 }, { kind: 'channel', method: 'wechat_native', amount: 400 }] });
    await ok('POST', `/v1/cards/${card}/events`, { event: 'freeze', reason: 'suspected fraud' });
    await payerPays(o);
    await until('order reopened', async () => (await m.signed('GET', `/v1/merchant/orders/${o.order_no}`)).body.status === 'created');
    const detail = await until('compensation refunded', async () => {
      const d = await ok('GET', `/v1/payment-orders/${o.order_no}`);
      return d.refunds.some((r: any) => r.purpose === 'compensation' && r.status === 'succeeded') ? d : undefined;
    });
    expect(detail.refunds.filter((r: any) => r.purpose === 'compensation').map((r: any) => r.amount)).toEqual([400]);
    const trade = await (await fetch(`${sims.wechatpay.sim.url}/__sim/trades/${detail.legs[1].out_trade_no}`)).json() as Record<string, unknown>;
    expect(JSON.stringify(trade)).toContain('400');
    await ok('POST', `/v1/cards/${card}/events`, { event: 'unfreeze', reason: 'cleared' });
    expect(await cardBalance(card)).toEqual({ principal: 50_000, held: 0 });
  });

  it('topup_then_pay: the WeChat leg tops up the payer\'s balance and the order is paid locally from it', async () => {
    const payer = await ok('POST', '/v1/customers', { kind: 'individual', legal_name: '王五', id_type: 'resident_id', id_number: sampleResidentId(77), real_name_level: 2 });
    const acct = await ok('POST', `/v1/customers/${payer.id}/accounts`, { kind: 'balance', currency: 'CNY' });
    const ledger = s.server.runtime.ledger;
    const bank = await ledger.createAccount({ type: 'asset', currency: 'CNY', subjectCode: '101101', name: 'test funding' });
    if (!bank.ok) throw new Error(bank.code);
    const funded = await ledger.transfer({ idempotencyKey: `fund-${acct.id}`, debitAccountId: bank.value.account.id, creditAccountId: BigInt(acct.ledger_account_id), amount: 500n, currency: 'CNY' });
    expect(funded.ok).toBe(true);
    const o = await order(1000, { strategy: 'topup_then_pay', payer_customer_id: payer.id });
    const legs = [{ kind: 'balance', account_id: acct.id, amount: 300 }, { kind: 'channel', method: 'wechat_native', amount: 700 }];
    // A merchant naming a payer does not let it spend the payer's balance: the payer's consent does.
    expect((await s.req('POST', cashier(o, '/pay'), { legs })).body.error.code).toBe('payer_not_authorized');
    const other = await ok('POST', '/v1/customers', { kind: 'individual', legal_name: '赵六', id_type: 'resident_id', id_number: sampleResidentId(78), real_name_level: 2 });
    const wrong = (await ok('POST', `/v1/customers/${other.id}/payer-token`)).payer_token;
    expect((await s.req('POST', cashier(o, '/pay'), { legs, payer_token: wrong })).body.error.code).toBe('payer_not_authorized');
    const token = (await ok('POST', `/v1/customers/${payer.id}/payer-token`)).payer_token;
    const r = await s.req('POST', cashier(o, '/pay'), { legs, payer_token: token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await payerPays(o);
    await until('order paid', async () => (await m.signed('GET', `/v1/merchant/orders/${o.order_no}`)).body.status === 'succeeded');
    const after = await ok('GET', `/v1/customers/${payer.id}/accounts/${acct.id}`);
    // 500 before; 300 paid from it, 700 topped up by WeChat and paid on: 200 left.
    expect(after.balances.posted).toBe(200);
  });

  it('refuses legs that do not add up, a leg kind the order does not offer, and a second payment while one is in flight', async () => {
    const card = await soldCard(50_000);
    const o = await order(1000, { methods: ['card', 'wechat_native'] });
    expect((await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 600 }] })).body.error.code).toBe('invalid_legs');
    expect((await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'balance', account_id: '1', amount: 1000 }] })).body.error.code).toBe('method_not_allowed');
    await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 600 }, { kind: 'channel', method: 'wechat_native', amount: 400 }] });
    expect((await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1000 }] })).body.error.code).toBe('payment_in_progress');
    // A card holds renminbi: it cannot pay an order in another currency, alone or with others.
    const usd = await order(1000, { methods: ['card'], currency: 'USD' });
    const r = await s.req('POST', cashier(usd, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1000 }] });
    expect(r.body.error).toMatchObject({ code: 'invalid_legs' });
    expect(r.body.error.message).toMatch(/CNY/);
  });

  it('charges once when the cashier is submitted twice at the same moment', async () => {
    const card = await soldCard(50_000);
    const o = await order(1000);
    const body = { legs: [{ kind: 'card', card_id: card, amount: 1000 }] };
    const [a, b] = await Promise.all([s.req('POST', cashier(o, '/pay'), body), s.req('POST', cashier(o, '/pay'), body)]);
    const outcomes = [a, b].map((r) => (r.status === 200 ? r.body.status : r.body.error.code)).sort();
    expect(outcomes.filter((x) => x === 'succeeded')).toHaveLength(1);
    expect(outcomes.every((x) => ['succeeded', 'payment_in_progress', 'order_already_paid'].includes(x)), outcomes.join()).toBe(true);
    expect((await cardBalance(card)).principal).toBe(49_000);
  });

  it('pays with one card alone in one transaction: a refusal is recorded and the order stays payable; the payment after it takes the fee, notifies and refunds', async () => {
    const poor = await soldCard(500);
    const rich = await soldCard(50_000);
    const o = await order(1000, { methods: ['card'] });
    const nosuch = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: '999999999999', amount: 1000 }] });
    expect(nosuch.body.error.code).toBe('invalid_legs');
    const refused = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: poor, amount: 1000 }] });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('card_leg_failed');
    let view = await ok('GET', `/v1/payment-orders/${o.order_no}`);
    expect(view.status).toBe('created');
    expect(view.failure_code).toMatch(/^card:/);
    expect(view.legs.map((l: any) => [l.leg_no, l.status])).toEqual([[1, 'failed']]);
    expect((await cardBalance(poor)).principal).toBe(500);

    const paid = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: rich, amount: 1000 }] });
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);
    expect(paid.body.status).toBe('succeeded');
    view = await ok('GET', `/v1/payment-orders/${o.order_no}`);
    expect(view.status).toBe('succeeded');
    expect(view.fee).toBe(6); // 0.6% of 1000
    expect(view.legs.map((l: any) => [l.leg_no, l.status])).toEqual([[1, 'failed'], [2, 'succeeded']]);
    expect((await cardBalance(rich)).principal).toBe(49_000);
    const notes = (await ok('GET', `/v1/merchant-notifications?merchant_id=${m.id}&limit=200`)).data.filter((x: unknown) => JSON.stringify(x).includes(o.order_no));
    expect(notes).toHaveLength(1);

    // Paid already: a second submit changes nothing.
    const again = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: rich, amount: 1000 }] });
    expect(again.body.error.code).toBe('order_already_paid');
    expect((await cardBalance(rich)).principal).toBe(49_000);

    const r = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `R${o.order_no}`, amount: 400 });
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    await until('the card refund', async () => (await cardBalance(rich)).principal === 49_400);
  });

  it('undoes a one-card checkout the ledger refuses after the batch recorded it: no leg paid, no fee, no notification', async () => {
    const card = await soldCard(5_000);
    const o = await order(1000, { methods: ['card'] });
    // Frozen in the ledger behind the cards module's back: the batch plans the consume, the ledger refuses it.
    const c = await s.server.runtime.cards!.getCard(BigInt(card));
    if (!c.ok) throw new Error(c.message);
    const acct = c.value.principalAccountId;
    expect((await s.server.runtime.ledger.setAccountStatus({ id: acct, status: 'debit_frozen', reason: 'test' })).ok).toBe(true);
    const r = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1000 }] });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('card_leg_failed');
    const view = await ok('GET', `/v1/payment-orders/${o.order_no}`);
    expect([view.status, view.fee, view.succeeded_at]).toEqual(['created', 0, null]);
    expect(view.legs.map((l: any) => l.status)).toEqual(['failed']);
    const notes = (await ok('GET', `/v1/merchant-notifications?merchant_id=${m.id}&limit=200`)).data.filter((x: unknown) => JSON.stringify(x).includes(o.order_no));
    expect(notes).toHaveLength(0);
    expect((await cardBalance(card)).principal).toBe(5_000);
    expect((await s.server.runtime.ledger.setAccountStatus({ id: acct, status: 'active', reason: 'test' })).ok).toBe(true);
    const paid = await s.req('POST', cashier(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1000 }] });
    expect(paid.body.status, JSON.stringify(paid.body)).toBe('succeeded');
    expect((await cardBalance(card)).principal).toBe(4_000);
  });

  it('keeps the ledger balanced', async () => {
    expect((await s.server.runtime.ledger.verify()).violations).toEqual([]);
  });
});
