// Proves risk control at the cashier over real HTTP: a rejected payment moves nothing; a challenge
// sends a code to the SMS gateway and the payment proceeds once the payer types it; a review holds
// the payment until an operator approves (it is carried out) or rejects it (the order fails).
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestMerchant, type TestMerchant } from './support/merchant.js';
import { startTestServer, type TestServer } from './support/server.js';
import { cashierPath, okClient, until } from './support/waiting.js';

let s: TestServer;
let m: TestMerchant;
let productId: string;
let sms: Server;
const texts: { challenge_id: string; text: string }[] = [];
const ok = okClient(() => s);
let n = 0;

async function order(amount: number): Promise<any> {
  const r = await m.signed('POST', '/v1/merchant/orders', { merchant_order_no: `RSK${Date.now()}${++n}`, amount, subject: '风控', notify_url: 'http://127.0.0.1:9/n', methods: ['card'] });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function soldCard(amount: number): Promise<string> {
  const card = (await ok('POST', `/v1/card-products/${productId}/batches`, { count: 1 })).cards[0].id;
  await ok('POST', `/v1/cards/${card}/sell`, { idempotency_key: `sell-${card}`, amount, payment_method: 'bank_transfer', buyer_kind: 'individual', buyer_real_name: true });
  return card;
}

const balance = async (card: string): Promise<number> => (await ok('GET', `/v1/cards/${card}`)).balances.principal;
const pay = (o: any, card: string) => s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: o.amount }], device_id: 'test-device' });

beforeAll(async () => {
  sms = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      texts.push(JSON.parse(body));
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => sms.listen(0, '127.0.0.1', () => r()));
  const port = (sms.address() as { port: number }).port;
  s = await startTestServer({ PAYCORE_SMS_WEBHOOK: `http://127.0.0.1:${port}/sms`, PAYCORE_JOB_INTERVAL_MS: '100' });
  m = await createTestMerchant(s, { n: 611 });
  productId = (await ok('POST', '/v1/card-products', { code: 'RSKC', name: 'risk card', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6603', number_length: 16, rechargeable: true, validity_months: 36 })).id;
  await ok('POST', `/v1/card-products/${productId}/merchants`, { merchant_id: m.id });
  const v = await ok('POST', '/v1/risk/rule-sets', {
    document: {
      name: 'cashier-test',
      rules: [
        { id: 'NO-666', priority: 1, action: 'reject', when: 'amount == 666', reason: 'unlucky' },
        { id: 'REVIEW-BIG', priority: 2, action: 'review', when: 'amount >= 50000', reason: 'big payment' },
        { id: 'STEP-UP', priority: 3, action: 'challenge', when: 'amount >= 20000 && channel == "card"', reason: 'medium payment' },
      ],
    },
  });
  await ok('POST', `/v1/risk/rule-sets/${v.version}/activate`);
}, 120_000);

afterAll(async () => {
  await s?.close();
  sms?.close();
});

describe('risk control at the cashier', () => {
  it('a rejected payment moves no money and says why', async () => {
    const card = await soldCard(10_000);
    const o = await order(666);
    const r = await pay(o, card);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'risk_rejected', details: { rule: 'NO-666' } });
    expect(await balance(card)).toBe(10_000);
    expect((await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs).toEqual([]);
  });

  it('a challenge sends a code; a wrong code is refused, the right one lets the payment through', async () => {
    const card = await soldCard(100_000);
    const o = await order(30_000);
    const r = await pay(o, card);
    expect(r.status).toBe(202);
    expect(r.body.outcome).toBe('challenge');
    const id = r.body.challenge_id;
    const sent = await until('the step-up code', async () => texts.find((t) => t.challenge_id === id));
    const code = /(\d{6})/.exec(sent.text)![1]!;
    expect(await balance(card)).toBe(100_000);
    // Paying again meanwhile shows the same challenge, it does not send a second code.
    expect((await pay(o, card)).body.challenge_id).toBe(id);
    const wrong = await s.req('POST', cashierPath(o, '/challenge'), { challenge_id: id, code: code === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe('challenge_code_wrong');
    const right = await s.req('POST', cashierPath(o, '/challenge'), { challenge_id: id, code });
    expect(right.status, JSON.stringify(right.body)).toBe(200);
    expect(right.body).toMatchObject({ status: 'succeeded', outcome: 'cleared' });
    expect(await balance(card)).toBe(70_000);
    expect((await s.req('POST', cashierPath(o, '/challenge'), { challenge_id: id, code })).status).toBe(404);
  });

  it('a review holds the payment until an operator approves it, then it is carried out', async () => {
    const card = await soldCard(100_000);
    const o = await order(60_000);
    const r = await pay(o, card);
    expect(r.status).toBe(202);
    expect(r.body.outcome).toBe('risk_review');
    const again = await pay(o, card);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('payment_in_progress');
    expect(await balance(card)).toBe(100_000);
    const c = await ok('GET', `/v1/risk/cases/${r.body.case_id}`);
    expect(c).toMatchObject({ status: 'open', subject_kind: 'payment_order', rule: 'REVIEW-BIG' });
    await ok('POST', `/v1/risk/cases/${r.body.case_id}/decision`, { approve: true, note: 'known customer' });
    await until('the approved payment', async () => (await ok('GET', `/v1/payment-orders/${o.order_no}`)).status === 'succeeded');
    expect(await balance(card)).toBe(40_000);
  });

  it('a rejected review fails the order and moves no money', async () => {
    const card = await soldCard(100_000);
    const o = await order(70_000);
    const r = await pay(o, card);
    expect(r.body.outcome).toBe('risk_review');
    await ok('POST', `/v1/risk/cases/${r.body.case_id}/decision`, { approve: false, note: 'fraud ring' });
    const view = await ok('GET', `/v1/payment-orders/${o.order_no}`);
    expect(view).toMatchObject({ status: 'failed', failure_code: 'risk_rejected' });
    expect(await balance(card)).toBe(100_000);
    expect((await pay(o, card)).body.error.code).toBe('order_failed');
  });

  it('every cashier decision is in the risk log with the order as its subject', async () => {
    const log = (await ok('GET', '/v1/risk/decisions?limit=100')).data.filter((d: any) => d.event_kind === 'payment');
    expect(log).toHaveLength(4); // rejected, challenged (the repeat showed the same challenge), reviewed twice
    expect(log.every((d: any) => d.event.merchant === m.id && d.event.device === 'test-device')).toBe(true);
    expect(new Set(log.map((d: any) => d.action))).toEqual(new Set(['reject', 'challenge', 'review']));
  });
});
