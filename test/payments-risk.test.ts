// Proves risk control at the cashier over real HTTP: a rejected payment moves nothing; a challenge
// sends a code to the SMS gateway and the payment proceeds once the payer types it; a review holds
// the payment until an operator approves (it is carried out) or rejects it (the order fails).
// Also: step-up tries taken in parallel, every card of a combined payment asked about, consent
// before risk, a clearance bound to its request, the merchant API screened, and the recovery of a
// decided case whose handler never ran. And: the payer the merchant names is a claim (a white-listed
// one skips no rule without the payer's token), a bad request is refused before risk control opens
// anything, a rejected review sticks, and an approved hold left cleared by a crash is recovered.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleResidentId } from '../src/modules/parties/index.js';
import { startSimulators, type Simulators } from '../simulators/index.js';
import { createTestMerchant, type TestMerchant } from './support/merchant.js';
import { startTestServer, type TestServer } from './support/server.js';
import { cashierPath, okClient, until } from './support/waiting.js';

let s: TestServer;
let m: TestMerchant;
let productId: string;
let sms: Server;
let sims: Simulators;
const texts: { challenge_id: string; text: string }[] = [];
const ok = okClient(() => s);
let n = 0;

async function order(amount: number, extra: Record<string, unknown> = {}): Promise<any> {
  const r = await m.signed('POST', '/v1/merchant/orders', { merchant_order_no: `RSK${Date.now()}${++n}`, amount, subject: '风控', notify_url: 'http://127.0.0.1:9/n', methods: ['card'], ...extra });
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
const view = (o: any): Promise<any> => ok('GET', `/v1/payment-orders/${o.order_no}`);
const caseCount = async (): Promise<number> => (await ok('GET', '/v1/risk/cases?limit=200')).data.length;
/** The statuses of an order's risk holds, oldest first. */
async function holdStatuses(o: any): Promise<string[]> {
  const r = await s.db.pool.query('SELECT h.status FROM payment_risk_holds h JOIN payment_orders o ON o.id = h.order_id WHERE o.order_no = $1 ORDER BY h.created_at', [o.order_no]);
  return r.rows.map((x: { status: string }) => x.status);
}
/** A card and an order of `amount` whose payment with that card is held for review. */
async function heldPayment(amount: number, extra: Record<string, unknown> = {}): Promise<{ card: string; o: any; caseId: string }> {
  const card = await soldCard(100_000);
  const o = await order(amount, extra);
  const r = await pay(o, card);
  expect(r.body.outcome).toBe('risk_review');
  return { card, o, caseId: r.body.case_id };
}

/**
 * A case decided as decideCase writes it, but without its handler having run (a crash, a race);
 * `hold` (an SQL SET list) is as far as the handler got with the case's hold.
 */
async function decidedWithoutHandler(caseId: string, status: 'approved' | 'rejected', hold: string): Promise<void> {
  await s.db.pool.query(`UPDATE risk_cases SET status = $2, decided_at = now(), decided_by = 'crashed-operator' WHERE id = $1`, [caseId, status]);
  await s.db.pool.query(`UPDATE payment_risk_holds SET ${hold} WHERE case_id = $1`, [caseId]);
}

/**
 * A held card payment of `amount` (card of 100,000) approved, its hold left as `hold` (an SQL SET
 * list) by a crash; the recovery job carries it out. Answers the order.
 */
async function recoveredAfterCrash(amount: number, hold: string): Promise<any> {
  const { card, o, caseId } = await heldPayment(amount);
  await decidedWithoutHandler(caseId, 'approved', hold);
  await until('the recovered payment', async () => (await view(o)).status === 'succeeded', 15_000);
  expect(await balance(card)).toBe(100_000 - amount);
  expect(await holdStatuses(o)).toEqual(['used']);
  return o;
}

/**
 * What a request screened a moment earlier does next: pay the order of `heldPayment` whole with
 * its card, or through WeChat (straight to the module, as the routes do after screening). Answers
 * how each ended: `paid` / `started`, or the code it was refused with.
 */
async function screenedAttempts(o: any, card: string): Promise<[string, string]> {
  const orderId = BigInt((await view(o)).id);
  const payments = s.server.runtime.payments;
  const combined = await payments.payCombined({ orderId, legs: [{ kind: 'card', cardId: BigInt(card), amountMinor: BigInt(o.amount) }] });
  const channel = await payments.payWithChannel({ orderId, method: 'wechat_native' });
  return [combined.ok ? 'paid' : combined.code, channel.ok ? 'started' : channel.code];
}

/** A payer with a CNY balance account. */
async function payer(i: number): Promise<{ id: string; account: string }> {
  const c = await ok('POST', '/v1/customers', { kind: 'individual', legal_name: `付款人${i}`, id_type: 'resident_id', id_number: sampleResidentId(i), real_name_level: 2 });
  return { id: c.id, account: (await ok('POST', `/v1/customers/${c.id}/accounts`, { kind: 'balance', currency: 'CNY' })).id };
}

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
  sims = await startSimulators({ notifyRetryScheduleMs: [100, 200, 400] });
  s = await startTestServer({ PAYCORE_SMS_WEBHOOK: `http://127.0.0.1:${port}/sms`, PAYCORE_JOB_INTERVAL_MS: '100' });
  m = await createTestMerchant(s, { n: 611 });
  await ok('POST', '/v1/channel-accounts', { code: 'wx', provider: 'wechatpay', mode: 'aggregated', config: sims.wechatpay.config, methods: ['wechat_native'], fee: { bps: 20 } });
  productId = (await ok('POST', '/v1/card-products', { code: 'RSKC', name: 'risk card', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6603', number_length: 16, rechargeable: true, validity_months: 36 })).id;
  await ok('POST', `/v1/card-products/${productId}/merchants`, { merchant_id: m.id });
  const v = await ok('POST', '/v1/risk/rule-sets', {
    document: {
      name: 'cashier-test',
      rules: [
        { id: 'NO-666', priority: 1, action: 'reject', when: 'amount == 666', reason: 'unlucky' },
        { id: 'REVIEW-BIG', priority: 2, action: 'review', when: 'amount >= 50000', reason: 'big payment' },
        { id: 'STEP-UP', priority: 3, action: 'challenge', when: 'amount >= 20000 && channel == "card"', reason: 'medium payment' },
        { id: 'STEP-UP-QR', priority: 4, action: 'challenge', when: 'amount == 777 && channel == "wechat_native"', reason: 'odd QR payment' },
        { id: 'REVIEW-DEVICE', priority: 5, action: 'review', when: 'device == "flagged-device"', reason: 'a device seen in fraud' },
      ],
    },
  });
  await ok('POST', `/v1/risk/rule-sets/${v.version}/activate`);
}, 120_000);

afterAll(async () => {
  await s?.close();
  await sims?.close();
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
    // A refusal says nothing about the card: a card tester learns no ids that exist.
    const probe = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: '999999999999', amount: 666 }], device_id: 'test-device' });
    expect(probe.status).toBe(422);
    expect(probe.body.error.code).toBe('risk_rejected');
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
    expect(log).toHaveLength(5); // rejected twice (the probe), challenged (the repeat showed the same challenge), reviewed twice
    expect(log.every((d: any) => d.event.merchant === m.id && d.event.device === 'test-device')).toBe(true);
    expect(new Set(log.map((d: any) => d.action))).toEqual(new Set(['reject', 'challenge', 'review']));
  });

  it('a malformed token (the cashier\'s or a payer token with a non-ASCII character) is refused, not a server error', async () => {
    const card = await soldCard(10_000);
    const p = await payer(615);
    const o = await order(1_000, { payer_customer_id: p.id });
    const token = (await ok('POST', `/v1/customers/${p.id}/payer-token`)).payer_token as string;
    // Same length in characters, not in bytes.
    const forged = `${token.slice(0, -1)}é`;
    const r = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1_000 }], device_id: 'test-device', payer_token: forged });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const t = new URL(o.cashier_url).searchParams.get('t')!;
    const bad = await s.req('GET', `/cashier/${o.order_no}/status?t=${encodeURIComponent(`${t.slice(0, -1)}é`)}`);
    expect(bad.status).toBe(404);
  });

  it('parallel guesses at a step-up code count as tries: four wrong answers, then the challenge is gone', async () => {
    const card = await soldCard(100_000);
    const o = await order(25_000);
    const r = await pay(o, card);
    expect(r.body.outcome).toBe('challenge');
    const id = r.body.challenge_id;
    const code = /(\d{6})/.exec((await until('the step-up code', async () => texts.find((t) => t.challenge_id === id))).text)![1]!;
    const guesses = Array.from({ length: 12 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    const answers = await Promise.all(guesses.map((g) => s.req('POST', cashierPath(o, '/challenge'), { challenge_id: id, code: g })));
    const codes = answers.map((a) => a.body.error?.code);
    expect(codes.filter((c) => c === 'challenge_code_wrong')).toHaveLength(4);
    expect(codes.every((c) => ['challenge_code_wrong', 'challenge_failed', 'challenge_not_found'].includes(c))).toBe(true);
    expect(codes).toContain('challenge_failed');
    // The right code is too late now; nothing moved.
    expect((await s.req('POST', cashierPath(o, '/challenge'), { challenge_id: id, code })).status).toBe(404);
    expect(await balance(card)).toBe(100_000);
  });

  it('every card of a combined payment is asked about, not only the one in the cashier\'s risk event', async () => {
    const a = await soldCard(50_000);
    const b = await soldCard(50_000);
    await ok('POST', '/v1/risk/lists', { entries: [{ list: 'black', entity: 'card', value: b, source: 'test' }] });
    const o = await order(15_000);
    const r = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: a, amount: 5_000 }, { kind: 'card', card_id: b, amount: 10_000 }] });
    expect(r.body.status).not.toBe('succeeded');
    const legs = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs;
    expect(legs.find((l: any) => l.card_id === b)).toMatchObject({ status: 'failed', failure_code: 'card:risk_rejected' });
    await until('the first card released', async () => (await balance(a)) === 50_000);
    expect(await balance(b)).toBe(50_000);
  });

  it('the payer\'s consent is checked before risk control: no case is opened for a balance leg without it', async () => {
    const payer = await ok('POST', '/v1/customers', { kind: 'individual', legal_name: '钱七', id_type: 'resident_id', id_number: sampleResidentId(611), real_name_level: 2 });
    const account = await ok('POST', `/v1/customers/${payer.id}/accounts`, { kind: 'balance', currency: 'CNY' });
    const o = await order(60_000, { methods: ['card', 'balance'], payer_customer_id: payer.id });
    const before = (await ok('GET', '/v1/risk/cases?limit=200')).data.length;
    const r = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'balance', account_id: account.id, amount: 60_000 }] });
    expect(r.body.error?.code).toBe('payer_not_authorized');
    expect((await ok('GET', '/v1/risk/cases?limit=200')).data.length).toBe(before);
  });

  it('a clearance is for the request that was held: a different one is decided afresh', async () => {
    const withPin = await soldCard(100_000);
    await ok('POST', `/v1/cards/${withPin}/pin`, { pin: '372915' });
    const other = await soldCard(100_000);
    const o = await order(60_000);
    const held = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: withPin, amount: 60_000, pin: '372915' }] });
    expect(held.body.outcome).toBe('risk_review');
    await ok('POST', `/v1/risk/cases/${held.body.case_id}/decision`, { approve: true, note: 'known customer' });
    // The PIN was not stored: the payment waits for the payer. They now try another card instead.
    const switched = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: other, amount: 60_000 }] });
    expect(switched.status).toBe(202);
    expect(switched.body.outcome).toBe('risk_review');
    expect(switched.body.case_id).not.toBe(held.body.case_id);
    expect(await balance(other)).toBe(100_000);
    await ok('POST', `/v1/risk/cases/${switched.body.case_id}/decision`, { approve: true, note: 'also fine' });
    await until('the approved payment', async () => (await ok('GET', `/v1/payment-orders/${o.order_no}`)).status === 'succeeded');
    expect(await balance(other)).toBe(40_000);
    expect(await balance(withPin)).toBe(100_000);
  });

  it('the merchant API is screened too: refused, or stepped up with the code the merchant passes on', async () => {
    const refused = await order(666, { methods: ['wechat_native'] });
    const r = await m.signed('POST', `/v1/merchant/orders/${refused.order_no}/pay`, { method: 'wechat_native', client_ip: '127.0.0.1' });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('risk_rejected');
    const o = await order(777, { methods: ['wechat_native'] });
    const c = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/pay`, { method: 'wechat_native', client_ip: '127.0.0.1' });
    expect(c.status).toBe(202);
    expect(c.body).toMatchObject({ outcome: 'challenge', action: null });
    const code = /(\d{6})/.exec((await until('the step-up code', async () => texts.find((t) => t.challenge_id === c.body.challenge_id))).text)![1]!;
    const done = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/challenge`, { challenge_id: c.body.challenge_id, code });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.outcome).toBe('cleared');
    expect(done.body.action?.type).toBe('qr_code');
    expect(done.body.order.status).not.toBe('failed');
  });

  it('a case decided without its handler finishing (a crash) is carried out by the recovery job', async () => {
    const { card, o, caseId } = await heldPayment(55_000);
    // The decision committed, the process died before the payment was told (the hold is old enough
    // for the recovery job to look at).
    await decidedWithoutHandler(caseId, 'approved', "created_at = created_at - interval '1 minute'");
    await until('the recovered payment', async () => (await ok('GET', `/v1/payment-orders/${o.order_no}`)).status === 'succeeded');
    expect(await balance(card)).toBe(45_000);
  });

  it('the payer the merchant names is a claim: white-listed, it skips no rule unless the payer proves it with a payer token', async () => {
    const p = await payer(612);
    await ok('POST', '/v1/risk/lists', { entries: [{ list: 'white', entity: 'user', value: p.id, source: 'test' }] });
    const card = await soldCard(10_000);
    const o = await order(666, { payer_customer_id: p.id });
    const r = await pay(o, card);
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'risk_rejected', details: { rule: 'NO-666' } });
    expect(await balance(card)).toBe(10_000);
    // The merchant API has no payer token at all: the order's payer is always the merchant's word.
    const qr = await order(666, { methods: ['wechat_native'], payer_customer_id: p.id });
    const mr = await m.signed('POST', `/v1/merchant/orders/${qr.order_no}/pay`, { method: 'wechat_native', client_ip: '127.0.0.1' });
    expect(mr.status, JSON.stringify(mr.body)).toBe(422);
    expect(mr.body.error).toMatchObject({ code: 'risk_rejected', details: { rule: 'NO-666' } });
    // Signed in, the payer is who the token says: their white-listing counts.
    const token = (await ok('POST', `/v1/customers/${p.id}/payer-token`)).payer_token;
    const proven = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 666 }], device_id: 'test-device', payer_token: token });
    expect(proven.status, JSON.stringify(proven.body)).toBe(200);
    expect(proven.body.status).toBe('succeeded');
    expect(await balance(card)).toBe(10_000 - 666);
  });

  it('a bad pay request is refused as such before risk control: no decision held, no case, nothing written', async () => {
    const card = await soldCard(100_000);
    const p = await payer(613);
    const stranger = await payer(614);
    const token = (await ok('POST', `/v1/customers/${p.id}/payer-token`)).payer_token;
    // Big enough that any request risk control is asked about goes to review.
    const o = await order(60_000, { methods: ['card', 'balance', 'wechat_native'], payer_customer_id: p.id });
    const cases = await caseCount();
    const bad: [Record<string, unknown>, number, string][] = [
      [{}, 400, 'invalid_request'],
      [{ legs: [{ kind: 'card', card_id: card, amount: 100 }] }, 422, 'invalid_legs'],
      [{ method: 'alipay_qr' }, 422, 'method_not_allowed'],
      [{ legs: [{ kind: 'card', card_id: card, amount: 30_000 }, { kind: 'channel', amount: 30_000 }] }, 422, 'invalid_legs'],
      [{ legs: [{ kind: 'card', card_id: '999999999', amount: 30_000 }, { kind: 'card', card_id: card, amount: 30_000 }] }, 422, 'invalid_legs'],
      [{ legs: [{ kind: 'balance', account_id: stranger.account, amount: 60_000 }], payer_token: token }, 422, 'invalid_legs'],
    ];
    for (const [body, status, code] of bad) {
      const r = await s.req('POST', cashierPath(o, '/pay'), { ...body, device_id: 'test-device' });
      expect(r.status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body.error.code).toBe(code);
    }
    const qr = await order(60_000, { methods: ['wechat_native'] });
    const mr = await m.signed('POST', `/v1/merchant/orders/${qr.order_no}/pay`, { method: 'alipay_qr', client_ip: '127.0.0.1' });
    expect(mr.status, JSON.stringify(mr.body)).toBe(422);
    expect(mr.body.error.code).toBe('method_not_allowed');
    expect(await caseCount()).toBe(cases);
    expect(await holdStatuses(o)).toEqual([]);
    expect(await holdStatuses(qr)).toEqual([]);
    expect(await view(o)).toMatchObject({ status: 'created', legs: [] });
    expect(await balance(card)).toBe(100_000);
    // Nothing blocks the order: a good request is decided (and held) as usual.
    expect((await pay(o, card)).body.outcome).toBe('risk_review');
    expect(await caseCount()).toBe(cases + 1);
  });

  it('an attempt screened just before a review opened does not start while the review is open', async () => {
    const { card, o } = await heldPayment(60_000, { methods: ['card', 'wechat_native'] });
    // A second request, screened a moment before the hold was opened, goes on to pay.
    expect(await screenedAttempts(o, card)).toEqual(['payment_in_progress', 'payment_in_progress']);
    expect(await balance(card)).toBe(100_000);
    expect(await view(o)).toMatchObject({ status: 'created', legs: [] });
  });

  it('a rejected review sticks: the attempt under way may still pay, but when it fails the order fails', async () => {
    const card = await soldCard(10_000);
    const o = await order(1_000, { methods: ['card', 'wechat_native'] });
    const qr = await s.req('POST', cashierPath(o, '/pay'), { method: 'wechat_native', device_id: 'test-device' });
    expect(qr.status, JSON.stringify(qr.body)).toBe(200);
    expect(qr.body.action?.type).toBe('qr_code');
    // The payer switches to a card, from a device that sends the request to review; it is rejected.
    const held = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1_000 }], device_id: 'flagged-device' });
    expect(held.body.outcome).toBe('risk_review');
    await ok('POST', `/v1/risk/cases/${held.body.case_id}/decision`, { approve: false, note: 'fraud ring' });
    // The QR attempt was under way before the review, so the order is not failed yet; nothing new starts.
    expect((await view(o)).status).toBe('processing');
    const retry = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1_000 }], device_id: 'test-device' });
    expect(retry.status, JSON.stringify(retry.body)).toBe(422);
    expect(retry.body.error.code).toBe('risk_rejected');
    // The payer's QR payment fails at WeChat; the query job (brought forward) finds out.
    const leg = (await view(o)).legs[0];
    const sim = await fetch(`${sims.wechatpay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: 'fail' }) });
    expect(sim.status).toBe(200);
    await s.db.pool.query('UPDATE payment_legs SET next_query_at = now() WHERE id = $1', [leg.id]);
    const after = await until('the QR attempt over', async () => {
      const v = await view(o);
      return v.legs[0].status !== 'pending' && v;
    });
    expect(after).toMatchObject({ status: 'failed', failure_code: 'risk_rejected' });
    expect(after.legs).toHaveLength(1);
    expect((await pay(o, card)).body.error.code).toBe('order_failed');
    expect(await balance(card)).toBe(10_000);
  });

  it('a switch of method stopped by a review rejected while it closed the earlier attempt fails the order (not left processing)', async () => {
    await ok('POST', '/v1/channel-accounts', { code: 'ali-switch', provider: 'alipay', mode: 'aggregated', config: sims.alipay.config, methods: ['alipay_qr'] });
    const card = await soldCard(10_000);
    const o = await order(1_000, { methods: ['card', 'wechat_native', 'alipay_qr'] });
    expect((await s.req('POST', cashierPath(o, '/pay'), { method: 'wechat_native', device_id: 'test-device' })).body.action?.type).toBe('qr_code');
    // WeChat answers slowly: switching to Alipay closes the QR attempt first, which takes a while...
    sims.wechatpay.sim.setFaults({ latencyMs: 1_500 });
    try {
      const switching = s.req('POST', cashierPath(o, '/pay'), { method: 'alipay_qr', device_id: 'test-device' });
      await new Promise((r) => setTimeout(r, 300));
      // ...in which another request is held for review and the review is rejected.
      const held = await s.req('POST', cashierPath(o, '/pay'), { legs: [{ kind: 'card', card_id: card, amount: 1_000 }], device_id: 'flagged-device' });
      expect(held.body.outcome, JSON.stringify(held.body)).toBe('risk_review');
      await ok('POST', `/v1/risk/cases/${held.body.case_id}/decision`, { approve: false, note: 'fraud ring' });
      const r = await switching;
      expect([r.status, r.body.error?.code]).toEqual([422, 'risk_rejected']);
    } finally {
      sims.wechatpay.sim.setFaults({ latencyMs: 0 });
    }
    expect(await view(o)).toMatchObject({ status: 'failed', failure_code: 'risk_rejected' });
    expect(await balance(card)).toBe(10_000);
  });

  it('after a rejected review nothing new starts, even on an order a race left payable, and closing it fails it', async () => {
    const { card, o, caseId } = await heldPayment(60_000, { methods: ['card', 'wechat_native'] });
    // As an attempt that ended at the very moment of the rejection can leave it: the hold rejected,
    // the order payable again (that attempt saw the hold still open and reopened the order).
    await decidedWithoutHandler(caseId, 'rejected', "status = 'rejected', decided_at = now()");
    expect((await view(o)).status).toBe('created');
    const cases = await caseCount();
    const again = await pay(o, card);
    expect(again.status, JSON.stringify(again.body)).toBe(422);
    expect(again.body.error.code).toBe('risk_rejected');
    const mr = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/pay`, { method: 'wechat_native', client_ip: '127.0.0.1' });
    expect(mr.body.error?.code).toBe('risk_rejected');
    // A request screened before the rejection goes on to pay: refused there too.
    expect(await screenedAttempts(o, card)).toEqual(['risk_rejected', 'risk_rejected']);
    expect(await caseCount()).toBe(cases);
    expect(await balance(card)).toBe(100_000);
    expect((await view(o)).legs).toEqual([]);
    // However the order ends now, it ends failed.
    const closed = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/close`);
    expect(closed.body).toMatchObject({ status: 'failed', failure_code: 'risk_rejected' });
  });

  it('an approved hold taken for carrying out, but left without a leg by a crash, is carried out by the recovery job', async () => {
    // carryOut marked the hold used, then the process died before the request wrote its legs.
    const o = await recoveredAfterCrash(57_000, "status = 'used', decided_at = now() - interval '6 minutes'");
    expect((await view(o)).legs).toHaveLength(1);
  });

  it('an approved request carried out to a refusal that wrote nothing (no channel) is not run again by the recovery job', async () => {
    // No UnionPay account is registered here: the approved request is refused before any leg.
    const o = await order(58_000, { methods: ['card', 'unionpay_qr'] });
    const r = await s.req('POST', cashierPath(o, '/pay'), { method: 'unionpay_qr', device_id: 'test-device' });
    expect(r.body.outcome, JSON.stringify(r.body)).toBe('risk_review');
    await ok('POST', `/v1/risk/cases/${r.body.case_id}/decision`, { approve: true });
    const hold = async () => (await s.db.pool.query('SELECT h.status, h.attempts, h.carried_at FROM payment_risk_holds h JOIN payment_orders o ON o.id = h.order_id WHERE o.order_no = $1', [o.order_no])).rows[0];
    expect(await hold()).toMatchObject({ status: 'used', attempts: 0 });
    expect((await hold()).carried_at).not.toBeNull();
    // Long after: the recovery job (every 100 ms here) leaves it be.
    await s.db.pool.query(`UPDATE payment_risk_holds SET decided_at = now() - interval '6 minutes' WHERE case_id = $1`, [r.body.case_id]);
    await new Promise((res) => setTimeout(res, 1_000));
    expect(await hold()).toMatchObject({ status: 'used', attempts: 0 });
    expect((await view(o)).legs).toEqual([]);
  });

  it('an approved hold left cleared by a crash before it was carried out is carried out by the recovery job', async () => {
    // resolveReview committed the clearance, then the process died before carryOut took the hold.
    await recoveredAfterCrash(56_000, "status = 'cleared', decided_at = now() - interval '1 minute'");
  });

  it('an approved hold left cleared for an order that can no longer be paid is given up by the recovery job', async () => {
    const { card, o, caseId } = await heldPayment(57_000);
    const closed = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/close`);
    expect(closed.body.status).toBe('closed');
    await decidedWithoutHandler(caseId, 'approved', "status = 'cleared', decided_at = now() - interval '1 minute'");
    await until('the hold given up', async () => (await holdStatuses(o))[0] === 'failed', 15_000);
    expect(await balance(card)).toBe(100_000);
    expect((await view(o)).status).toBe('closed');
  });
});
