// Proves the prepaid-card flow over real HTTP as a new user would run it: create a product, issue stock, sell, recharge, pay at a merchant terminal with a signed request, void and refund, report loss and replace, with bad input refused and the ledger verified at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../src/kernel/signature.js';
import { CardPurse, tornRetryDecision } from '../src/modules/cards/index.js';
import { sampleResidentId, sampleUscc } from '../src/modules/parties/index.js';
import { startTestServer, type TestServer } from './support/server.js';

let s: TestServer;
let merchantId: string;
let keyId: string;
let secret: string;
let holderId: string;
let productId: string;

async function ok(method: string, path: string, body?: unknown, status = [200, 201]): Promise<any> {
  const r = await s.req(method, path, body);
  expect(status, `${method} ${path}: ${JSON.stringify(r.body)}`).toContain(r.status);
  return r.body;
}

/** A request signed by the merchant terminal, as its integration would send it. */
async function signed(method: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const text = JSON.stringify(body);
  const sig = signRequest({ method, pathWithQuery: path, body: text, keyId, alg: 'HMAC-SHA256', secretOrPrivateKey: secret, nowSeconds: Date.now() / 1000 });
  const res = await fetch(`${s.url}${path}`, { method, headers: { 'content-type': 'application/json', 'paycore-signature': sig.header }, body: text });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  s = await startTestServer();
  const org = await ok('POST', '/v1/customers', { kind: 'organization', legal_name: '好又多超市', id_type: 'uscc', id_number: sampleUscc(31), real_name_level: 2 });
  const m = await ok('POST', '/v1/merchants', { customer_id: org.id, display_name: 'Haoyouduo', mcc: '5411', settlement_cycle: 'T+1' });
  merchantId = m.id;
  await ok('POST', `/v1/merchants/${merchantId}/status`, { status: 'active', reason: 'contract signed' });
  const cred = await ok('POST', `/v1/merchants/${merchantId}/credentials`, { alg: 'HMAC-SHA256', name: 'pos' });
  keyId = cred.key_id;
  secret = cred.secret;
  const holder = await ok('POST', '/v1/customers', { kind: 'individual', legal_name: '李四', id_type: 'resident_id', id_number: sampleResidentId(41), real_name_level: 2 });
  holderId = holder.id;
}, 60_000);
afterAll(async () => {
  await s?.close();
});

describe('prepaid cards over HTTP', () => {
  let cardId: string;
  let number: string;
  let paymentId: string;

  it('creates a product, issues a batch and exports its numbers', async () => {
    const p = await ok('POST', '/v1/card-products', {
      code: 'HYD-GIFT', name: '好又多礼品卡', issuer_kind: 'platform', purpose: 'multi', named: true, bin_prefix: '6200', number_length: 16,
      rechargeable: true, issuance_fee: 0, replacement_fee: 500, bonus_rules: [{ min_recharge: 10000, bonus: 1000 }],
    });
    productId = p.id;
    await ok('POST', `/v1/card-products/${productId}/merchants`, { merchant_id: merchantId });
    const batch = await ok('POST', `/v1/card-products/${productId}/batches`, { count: 3 });
    expect(batch.cards).toHaveLength(3);
    expect(batch.cards[0].masked_number).toMatch(/^\*{4} \*{4} \*{4} \d{4}$/);
    const nums = await ok('GET', `/v1/card-batches/${batch.batch_id}/numbers`);
    cardId = nums.cards[0].card_id;
    number = nums.cards[0].number;
    expect(number).toMatch(/^6200\d{12}$/);
    const found = await ok('POST', '/v1/cards/lookup', { number });
    expect(found.id).toBe(cardId);
  });

  it('sells, recharges (with bonus) and shows the balance', async () => {
    await ok('POST', `/v1/cards/${cardId}/sell`, { idempotency_key: 'sell-1', amount: 20000, payment_method: 'bank_transfer', buyer_kind: 'individual', buyer_real_name: true, holder_customer_id: holderId });
    await ok('POST', `/v1/cards/${cardId}/recharge`, { idempotency_key: 'rc-1', amount: 10000, payment_method: 'debit_card' });
    const card = await ok('GET', `/v1/cards/${cardId}`);
    expect(card.status).toBe('active');
    expect(card.balances).toMatchObject({ principal: 30000, bonus: 1000, total: 31000 });
    const over = await s.req('POST', `/v1/cards/${cardId}/recharge`, { idempotency_key: 'rc-2', amount: 480001, payment_method: 'bank_transfer' });
    expect([over.status, over.body.error.code]).toEqual([422, 'card_balance_limit_exceeded']);
  });

  it('takes a signed terminal payment, replays it idempotently, and refuses bad ones', async () => {
    const pay = await signed('POST', '/v1/merchant/card-payments', { idempotency_key: 'pos-1', card_number: number, amount: 12000, terminal_id: 'POS-07' });
    expect(pay.status, JSON.stringify(pay.body)).toBe(200);
    paymentId = pay.body.id;
    const again = await signed('POST', '/v1/merchant/card-payments', { idempotency_key: 'pos-1', card_number: number, amount: 12000, terminal_id: 'POS-07' });
    expect(again.body.id).toBe(paymentId);
    const tooMuch = await signed('POST', '/v1/merchant/card-payments', { idempotency_key: 'pos-2', card_number: number, amount: 100000 });
    expect([tooMuch.status, tooMuch.body.error.code]).toEqual([422, 'insufficient_balance']);
    const unknown = await signed('POST', '/v1/merchant/card-payments', { idempotency_key: 'pos-3', card_number: '6200000000000000', amount: 1 });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'card_not_found']);
    const balance = await signed('POST', '/v1/merchant/card-balance', { card_number: number });
    expect(balance.body.balance).toBe(19000);
    const unsigned = await fetch(`${s.url}/v1/merchant/card-payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unsigned.status).toBe(401);
  });

  it('refunds part of the payment and voids another', async () => {
    const r = await signed('POST', `/v1/merchant/card-payments/${paymentId}/refund`, { idempotency_key: 'rf-1', amount: 2000 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const p2 = await signed('POST', '/v1/merchant/card-payments', { idempotency_key: 'pos-4', card_number: number, amount: 500 });
    const v = await signed('POST', `/v1/merchant/card-payments/${p2.body.id}/void`, { idempotency_key: 'void-1' });
    expect(v.status, JSON.stringify(v.body)).toBe(200);
    const card = await ok('GET', `/v1/cards/${cardId}`);
    expect(card.balances.total).toBe(31000 - 12000 + 2000);
  });

  it('loads the offline purse and applies an uploaded offline batch with a torn transaction exactly once', async () => {
    await ok('POST', `/v1/cards/${cardId}/purse-load`, { idempotency_key: 'pl-1', amount: 3000 });
    const chip = new CardPurse({ cardId, cardKey: s.server.runtime.cards.purseKey(BigInt(cardId)), balanceLimitMinor: 100000n, singleTxLimitMinor: 100000n, balanceMinor: 3000n });
    const d1 = chip.debit({ amountMinor: 200n, terminalId: 'BUS-9', merchantId, occurredAt: new Date() });
    const atc = chip.atc;
    chip.tornDebit({ amountMinor: 300n, terminalId: 'BUS-9', merchantId, occurredAt: new Date() });
    const retry = tornRetryDecision({ cardId, atcBeforeAttempt: atc, atcNow: chip.atc, proof: chip.transactionProof(atc + 1), intended: { amountMinor: 300n, terminalId: 'BUS-9', merchantId } });
    if (!d1.ok || retry.kind !== 'already_debited') throw new Error('chip simulation failed');
    const wire = (r: typeof retry.record) => ({ card_id: r.cardId, atc: r.atc, amount: Number(r.amountMinor), balance_before: Number(r.balanceBeforeMinor), balance_after: Number(r.balanceAfterMinor), terminal_id: r.terminalId, merchant_id: r.merchantId, occurred_at: r.occurredAt, mac: r.mac });
    const up = await signed('POST', '/v1/merchant/offline-batches', { terminal_id: 'BUS-9', records: [wire(d1.value), wire(retry.record)] });
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body).toMatchObject({ applied_amount: 500, gaps: [] });
    const again = await signed('POST', '/v1/merchant/offline-batches', { terminal_id: 'BUS-9', records: [wire(retry.record)] });
    expect(again.body.results[0].status).toBe('duplicate');
    const card = await ok('GET', `/v1/cards/${cardId}`);
    expect(card.balances.purse).toBe(2500);
  });

  it('reports loss, replaces the card, and the old card can no longer pay', async () => {
    await ok('POST', `/v1/cards/${cardId}/events`, { event: 'report_loss', reason: 'holder called' });
    const blocked = await signed('POST', '/v1/merchant/card-payments', { idempotency_key: 'pos-5', card_number: number, amount: 1 });
    expect(blocked.body.error.code).toBe('card_not_active');
    await ok('POST', `/v1/cards/${cardId}/events`, { event: 'confirm_loss', reason: 'ID checked' });
    const rep = await ok('POST', `/v1/cards/${cardId}/replace`, { idempotency_key: 'rep-1', payment_method: 'cash', reason: 'lost' });
    expect(rep.old_card.status).toBe('replaced');
    const fresh = await ok('GET', `/v1/cards/${rep.new_card.id}`);
    // 21000 online value minus the 3000 loaded onto the purse (which stays on the old chip).
    expect(fresh.balances.total).toBe(18000);
    expect(fresh.holder_customer_id).toBe(holderId);
    const events = await ok('GET', `/v1/cards/${cardId}/events`);
    expect(events.data.map((e: any) => e.event)).toEqual(['sell_activate', 'report_loss', 'confirm_loss', 'replace']);
    const bad = await s.req('POST', `/v1/cards/${cardId}/events`, { event: 'unfreeze', reason: 'x' });
    expect([bad.status, bad.body.error.code]).toEqual([409, 'invalid_card_transition']);
  });

  it('keeps the ledger balanced', async () => {
    expect((await ok('GET', '/v1/ledger/verify')).ok).toBe(true);
  });
});
