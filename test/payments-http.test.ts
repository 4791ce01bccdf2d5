// Proves payments end to end over real HTTP against the channel simulators: signed orders, the cashier, verified channel notifications, failover only on proven refusals, unknown outcomes resolved by query, duplicate and wrong-amount notifications, refunds, signed merchant notifications with retries and replay, and the ledger balanced at the end.
import { createServer, type Server as HttpServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSigningString, parseSignatureHeader, signRequest, verifyHmac } from '../src/kernel/signature.js';
import { startSimulators, type Simulators } from '../simulators/index.js';
import { createWechatPayTestAccount, startWechatPaySimulator, type WechatPaySimulator } from '../simulators/wechat-pay/index.js';
import { createTestMerchant, type TestMerchant } from './support/merchant.js';
import { startTestServer, type TestServer } from './support/server.js';
import { cashierPath, okClient, until } from './support/waiting.js';

let s: TestServer;
let sims: Simulators;
let wx2: WechatPaySimulator;
let m: TestMerchant;
let hook: HttpServer;
let hookUrl: string;
const received: { orderNo: string; event: string; verified: boolean; id: string }[] = [];
/** Orders whose notifications the merchant answers with 500 (to exercise retries). */
const failing = new Set<string>();
let n = 0;
const ok = okClient(() => s);

async function order(amount: number, extra: Record<string, unknown> = {}): Promise<any> {
  const r = await m.signed('POST', '/v1/merchant/orders', { merchant_order_no: `ORD${Date.now()}${++n}`, amount, subject: '测试商品', notify_url: `${hookUrl}/notify`, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function payAtCashier(o: any, body: unknown): Promise<{ status: number; body: any }> {
  return s.req('POST', cashierPath(o, '/pay'), body);
}

const statusOf = async (orderNo: string): Promise<any> => (await m.signed('GET', `/v1/merchant/orders/${orderNo}`)).body;

beforeAll(async () => {
  sims = await startSimulators({ notifyRetryScheduleMs: [100, 200, 400] });
  wx2 = await startWechatPaySimulator({ refundDelayMs: -1 });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const p = parseSignatureHeader(String(req.headers['paycore-signature'] ?? ''));
      const verified = p.ok && verifyHmac(m.secret, buildSigningString({ method: 'POST', pathWithQuery: req.url ?? '', ts: p.value.ts, nonce: p.value.nonce, body }), p.value.sig);
      const j = JSON.parse(body) as { id: string; event: string; data: { order?: { order_no: string }; refund?: { order_no: string } } };
      const orderNo = j.data.order?.order_no ?? j.data.refund?.order_no ?? '';
      received.push({ orderNo, event: j.event, verified, id: j.id });
      res.statusCode = failing.has(orderNo) ? 500 : 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  const a = hook.address();
  hookUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  s = await startTestServer({ PAYCORE_JOB_INTERVAL_MS: '100', PAYCORE_QUERY_BACKOFF_MS: '150,300,600', PAYCORE_NOTIFY_SCHEDULE_MS: '0,100,100', PAYCORE_CHANNEL_TIMEOUT_MS: '1500' });
  m = await createTestMerchant(s, { n: 401 });
  const fee = (bps: number) => ({ bps });
  // WeChat through two contracts: wx-cheap is preferred by cost; wx-backup takes over when it refuses.
  const backup = await createWechatPayTestAccount({ baseUrl: wx2.url, platformCertificatePem: wx2.platformCertificatePem });
  wx2.registerMerchant(backup.merchant);
  await ok('POST', '/v1/channel-accounts', { code: 'wx-cheap', provider: 'wechatpay', mode: 'aggregated', config: sims.wechatpay.config, methods: ['wechat_native', 'wechat_jsapi'], fee: fee(20) });
  await ok('POST', '/v1/channel-accounts', { code: 'wx-backup', provider: 'wechatpay', mode: 'aggregated', config: backup.config, methods: ['wechat_native'], fee: fee(60) });
  await ok('POST', '/v1/channel-accounts', { code: 'ali', provider: 'alipay', mode: 'aggregated', config: sims.alipay.config, methods: ['alipay_qr', 'alipay_page'], fee: fee(55) });
  await ok('POST', '/v1/channel-accounts', { code: 'unionpay', provider: 'unionpay', mode: 'aggregated', config: sims.unionpay.config, methods: ['unionpay_qr'], fee: fee(30) });
  await ok('POST', '/v1/channel-accounts', { code: 'bank', provider: 'bank', mode: 'aggregated', config: sims.bank.config, methods: ['bank_quick', 'bank_gateway'], fee: { bps: 10, fixed: 100 } });
}, 120_000);

afterAll(async () => {
  await s?.close();
  await sims?.close();
  await wx2?.close();
  await new Promise((r) => hook?.close(r));
});

describe('payment orders', () => {
  it('refuses bad orders with clear codes and answers a repeat with the same order', async () => {
    const no = `DUP${Date.now()}`;
    const body = { merchant_order_no: no, amount: 100, subject: 'x', notify_url: `${hookUrl}/n` };
    const first = await m.signed('POST', '/v1/merchant/orders', body);
    const again = await m.signed('POST', '/v1/merchant/orders', body);
    expect([first.status, again.status, again.body.order_no]).toEqual([201, 200, first.body.order_no]);
    expect((await m.signed('POST', '/v1/merchant/orders', { ...body, amount: 101 })).body.error.code).toBe('order_exists_with_different_content');
    expect((await m.signed('POST', '/v1/merchant/orders', { ...body, merchant_order_no: `X${no}`, notify_url: 'https://evil.example.com/n' })).body.error.code).toBe('notify_url_not_allowed');
    const forged = await fetch(`${s.url}/v1/merchant/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'paycore-signature': 'alg="HMAC-SHA256", key_id="mk_000000000000000000000000", ts="1", nonce="aaaaaaaaaaaaaaaa", sig="AAAA"' }, body: JSON.stringify(body) });
    expect(forged.status).toBe(401);
    expect((await m.signed('POST', '/v1/merchant/orders', { ...body, merchant_order_no: `Y${no}`, amount: 0 })).status).toBe(400);
  });

  it('pays by WeChat through the cashier: QR code, payer pays, verified notification, order paid, merchant told', async () => {
    const o = await order(1234);
    const page = await fetch(`${s.url}${cashierPath(o)}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('测试商品');
    expect((await s.req('GET', `/cashier/${o.order_no}/status?t=wrong`)).status).toBe(404);
    const r = await payAtCashier(o, { method: 'wechat_native' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.action.type).toBe('qr_code');
    const detail = await ok('GET', `/v1/payment-orders/${o.order_no}`);
    const leg = detail.legs[0];
    expect(leg.route_trace.explanation).toContain('wx-cheap');
    // The payer's browser coming back proves nothing; only the channel's word counts.
    expect((await statusOf(o.order_no)).status).toBe('processing');
    await fetch(`${sims.wechatpay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await until('order paid', async () => (await statusOf(o.order_no)).status === 'succeeded');
    const note = await until('merchant notified', async () => received.find((x) => x.orderNo === o.order_no && x.event === 'payment.succeeded'));
    expect(note.verified).toBe(true);
    expect((await statusOf(o.order_no)).fee).toBe(7); // 0.6% of 12.34, rounded half up
  });

  it('fails over to the next channel only when the first refused (maintenance), and records why', async () => {
    sims.wechatpay.sim.setFaults({ maintenance: true });
    try {
      const o = await order(500);
      const r = await payAtCashier(o, { method: 'wechat_native' });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const detail = await ok('GET', `/v1/payment-orders/${o.order_no}`);
      expect(detail.legs.map((l: any) => l.status)).toEqual(['failed', 'pending']);
      expect(detail.legs[1].route_trace.chosen).toBe('wx-backup');
    } finally {
      sims.wechatpay.sim.setFaults({ maintenance: false });
    }
  });

  it('never retries an unknown outcome blindly: the query job finds the payment', async () => {
    sims.wechatpay.sim.setFaults({ unknownOutcomePerMille: 1000 });
    let o: any;
    try {
      o = await order(777);
      const r = await payAtCashier(o, { method: 'wechat_native' });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body.outcome).toBe('unknown');
    } finally {
      sims.wechatpay.sim.setFaults({ unknownOutcomePerMille: 0 });
    }
    const detail = await ok('GET', `/v1/payment-orders/${o.order_no}`);
    expect(detail.legs).toHaveLength(1);
    await fetch(`${sims.wechatpay.sim.url}/__sim/trades/${detail.legs[0].out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await until('order paid via query', async () => (await statusOf(o.order_no)).status === 'succeeded');
    expect((await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs).toHaveLength(1);
  });

  it('applies duplicate notifications once and ignores a wrong-amount notification (alert; the query decides)', async () => {
    sims.wechatpay.sim.setFaults({ duplicateNotifications: true, notifyAmountDeltaMinor: 1 });
    let o: any;
    try {
      o = await order(900);
      await payAtCashier(o, { method: 'wechat_native' });
      const leg = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs[0];
      await fetch(`${sims.wechatpay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await until('mismatch alert', async () => (await ok('GET', `/v1/payment-orders/${o.order_no}`)).alerts.some((a: any) => a.kind === 'amount_mismatch'));
    } finally {
      sims.wechatpay.sim.setFaults({ duplicateNotifications: false, notifyAmountDeltaMinor: 0 });
    }
    await until('order paid via query', async () => (await statusOf(o.order_no)).status === 'succeeded');
    const legId = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs[0].id;
    // The money came in once, however many notifications arrived.
    const moves = await s.server.runtime.ledger.findTransfers({ code: 'channel_payment', metadata: { leg: legId }, limit: 10 });
    expect(moves.map((t) => t.amount)).toEqual([900n]);
    await until('merchant notified', async () => received.some((x) => x.orderNo === o.order_no && x.event === 'payment.succeeded'));
  });

  it('refunds in part, twice, never above what was paid; a repeated refund number answers the same refund', async () => {
    const o = await order(1000);
    await payAtCashier(o, { method: 'alipay_qr' });
    const leg = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs[0];
    await fetch(`${sims.alipay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await until('paid', async () => (await statusOf(o.order_no)).status === 'succeeded');
    const r1 = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `${o.order_no}-r1`, amount: 300 });
    expect(r1.status, JSON.stringify(r1.body)).toBe(200);
    const again = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `${o.order_no}-r1`, amount: 300 });
    expect(again.body.refund_no).toBe(r1.body.refund_no);
    expect((await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `${o.order_no}-r1`, amount: 301 })).body.error.code).toBe('refund_exists_with_different_content');
    expect((await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `${o.order_no}-r2`, amount: 701 })).body.error.code).toBe('refund_exceeds_refundable');
    expect((await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `${o.order_no}-r3`, amount: 700 })).status).toBe(200);
    for (const no of ['r1', 'r3']) await until(`refund ${no}`, async () => (await m.signed('GET', `/v1/merchant/refunds/${o.order_no}-${no}`)).body.status === 'succeeded');
    expect((await statusOf(o.order_no)).refunded_amount).toBe(1000);
    // The channel's statement for today lists the payment and both refunds of this trade.
    const ali = (await ok('GET', '/v1/channel-accounts')).data.find((a: any) => a.code === 'ali');
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
    const st = await ok('GET', `/v1/channel-accounts/${ali.id}/statements/${today}`);
    const mine = st.lines.filter((l: any) => l.out_trade_no === leg.out_trade_no);
    expect(mine.map((l: any) => [l.kind, Number(l.amount_minor ?? l.amount)]).sort()).toEqual([['payment', 1000], ['refund', 300], ['refund', 700]]);
  });

  it('refuses a refund the merchant\'s balance cannot cover (its money was settled out)', async () => {
    const o = await order(500);
    await payAtCashier(o, { method: 'alipay_qr' });
    const leg = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs[0];
    await fetch(`${sims.alipay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await until('paid', async () => (await statusOf(o.order_no)).status === 'succeeded');
    // Settle everything the merchant holds out to its bank account.
    const rt = s.server.runtime;
    const payee = await rt.parties.merchantPayee({ merchantId: BigInt(m.id) });
    if (!payee.ok) throw new Error(payee.code);
    const [payable] = await rt.ledger.getAccounts([payee.value.settlementLedgerAccountId]);
    const bank = await rt.ledger.createAccount({ type: 'asset', currency: 'CNY', subjectCode: '101101', name: 'settlement bank' });
    if (!bank.ok) throw new Error(bank.code);
    const paidOut = await rt.ledger.transfer({ idempotencyKey: `settle-${o.order_no}`, debitAccountId: payable!.id, creditAccountId: bank.value.account.id, amount: payable!.creditsPosted - payable!.debitsPosted - payable!.debitsPending, currency: 'CNY', code: 'merchant_settlement' });
    expect(paidOut.ok).toBe(true);
    const r = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `${o.order_no}-r`, amount: 500 });
    expect([r.status, r.body.error?.code]).toEqual([422, 'merchant_balance_insufficient']);
    expect((await statusOf(o.order_no)).refunded_amount).toBe(0);
  });

  it('advances a refund the channel completed after the merchant\'s balance was settled out (merchant owes it; alert)', async () => {
    sims.wechatpay.sim.setFaults({ maintenance: true });
    let o: any;
    try {
      o = await order(800);
      await payAtCashier(o, { method: 'wechat_native' });
    } finally {
      sims.wechatpay.sim.setFaults({ maintenance: false });
    }
    const leg = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs.find((l: any) => l.status === 'pending');
    await fetch(`${wx2.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await until('paid', async () => (await statusOf(o.order_no)).status === 'succeeded');
    const r = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/refunds`, { merchant_refund_no: `${o.order_no}-adv`, amount: 800 });
    expect(r.body.status, JSON.stringify(r.body)).toBe('processing');
    // The merchant's money leaves before the channel finishes the refund.
    const rt = s.server.runtime;
    const payee = await rt.parties.merchantPayee({ merchantId: BigInt(m.id) });
    if (!payee.ok) throw new Error(payee.code);
    const [payable] = await rt.ledger.getAccounts([payee.value.settlementLedgerAccountId]);
    const bank = await rt.ledger.createAccount({ type: 'asset', currency: 'CNY', subjectCode: '101101', name: 'settlement bank 2' });
    if (!bank.ok) throw new Error(bank.code);
    expect((await rt.ledger.transfer({ idempotencyKey: `settle-${o.order_no}`, debitAccountId: payable!.id, creditAccountId: bank.value.account.id, amount: payable!.creditsPosted - payable!.debitsPosted - payable!.debitsPending, currency: 'CNY' })).ok).toBe(true);
    await fetch(`${wx2.url}/__sim/refunds/${r.body.parts[0].out_refund_no}/result`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"result":"success"}' });
    await until('refund done', async () => (await m.signed('GET', `/v1/merchant/refunds/${o.order_no}-adv`)).body.status === 'succeeded');
    expect((await ok('GET', `/v1/payment-orders/${o.order_no}`)).alerts.map((a: any) => a.kind)).toContain('refund_advanced');
    expect((await rt.ledger.verify()).violations).toEqual([]);
  });

  it('closes an unpaid order at the channel first; a closed order cannot be paid', async () => {
    const o = await order(250);
    await payAtCashier(o, { method: 'wechat_native' });
    const c = await m.signed('POST', `/v1/merchant/orders/${o.order_no}/close`, {});
    expect([c.status, c.body.status]).toEqual([200, 'closed']);
    expect((await payAtCashier(o, { method: 'wechat_native' })).body.error.code).toBe('order_closed');
  });

  it('retries a merchant notification until 2xx, dead-letters it after the schedule, and an operator replays it', async () => {
    const o = await order(300);
    failing.add(o.order_no);
    await payAtCashier(o, { method: 'unionpay_qr' });
    const leg = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs[0];
    await fetch(`${sims.unionpay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const orderId = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).id;
    const dead = await until('dead letter', async () => (await ok('GET', '/v1/merchant-notifications?status=dead')).data.find((x: any) => x.order_id === orderId));
    expect(received.filter((x) => x.orderNo === o.order_no).length).toBe(3);
    failing.delete(o.order_no);
    await ok('POST', `/v1/merchant-notifications/${dead.id}/replay`);
    await until('delivered', async () => (await ok('GET', `/v1/merchant-notifications/${dead.id}`)).status === 'delivered');
    const h = await ok('GET', `/v1/merchant-notifications/${dead.id}`);
    expect(h.history.map((a: any) => a.http_status)).toEqual([500, 500, 500, 200]);
  });

  it('pays by bank quick pay with the SMS code', async () => {
    const o = await order(4321, { methods: ['bank_quick'] });
    const r = await payAtCashier(o, { method: 'bank_quick', bank_card: { agreementNo: sims.bank.agreementNo } });
    expect(r.body.action?.type, JSON.stringify(r.body)).toBe('sms_code');
    const leg = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs[0];
    const sms = (await (await fetch(`${sims.bank.sim.url}/__sim/sms/${leg.out_trade_no}`)).json()) as { code: string };
    expect((await s.req('POST', cashierPath(o, '/confirm'), { sms_code: sms.code === '000000' ? '111111' : '000000' })).status).toBe(422);
    const done = await s.req('POST', cashierPath(o, '/confirm'), { sms_code: sms.code });
    expect(done.body.status, JSON.stringify(done.body)).toBe('succeeded');
  });

  it('refuses a replayed signed request (same nonce)', async () => {
    const body = JSON.stringify({ merchant_order_no: `RPL${Date.now()}`, amount: 100, subject: 'x', notify_url: `${hookUrl}/n` });
    const sig = signRequest({ method: 'POST', pathWithQuery: '/v1/merchant/orders', body, keyId: m.keyId, alg: 'HMAC-SHA256', secretOrPrivateKey: m.secret, nowSeconds: Date.now() / 1000 });
    const send = () => fetch(`${s.url}/v1/merchant/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'paycore-signature': sig.header }, body });
    expect((await send()).status).toBe(201);
    expect((await send()).status).toBe(401);
  });

  it('declines: fails over while another channel can take it; refused everywhere, the order can be paid another way', async () => {
    sims.wechatpay.sim.setFaults({ declinePerMille: 1000 });
    wx2.setFaults({ declinePerMille: 1000 });
    try {
      const o = await order(640);
      const r = await payAtCashier(o, { method: 'wechat_native' });
      expect([r.status, r.body.error?.code]).toEqual([422, 'channel_declined']);
      const d = await ok('GET', `/v1/payment-orders/${o.order_no}`);
      expect(d.legs.map((l: any) => [l.status, l.route_trace.chosen])).toEqual([['failed', 'wx-cheap'], ['failed', 'wx-backup']]);
      expect(d.status).toBe('created');
      const other = await payAtCashier(o, { method: 'alipay_qr' });
      expect(other.body.action?.type, JSON.stringify(other.body)).toBe('qr_code');
    } finally {
      sims.wechatpay.sim.setFaults({ declinePerMille: 0 });
      wx2.setFaults({ declinePerMille: 0 });
    }
  });

  it('timeouts and 5xx leave the outcome unknown (202, no second attempt); an order is closed only once the channel says nothing was paid', async () => {
    const attempt = async (sim: Simulators['alipay']['sim'], method: string, knob: 'timeoutPerMille' | 'serverErrorPerMille') => {
      sim.setFaults({ [knob]: 1000 });
      try {
        const o = await order(330);
        const r = await payAtCashier(o, { method });
        expect([r.status, r.body.outcome], `${method} ${JSON.stringify(r.body)}`).toEqual([202, 'unknown']);
        expect((await payAtCashier(o, { method })).body.error?.code).toBe('payment_in_progress');
        expect((await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs).toHaveLength(1);
        return o;
      } finally {
        sim.setFaults({ [knob]: 0 });
      }
    };
    // Alipay answers "no such trade" to a query: proof that the lost request never arrived.
    const a = await attempt(sims.alipay.sim, 'alipay_qr', 'timeoutPerMille');
    const closed = await until('alipay order closed', async () => {
      const c = await m.signed('POST', `/v1/merchant/orders/${a.order_no}/close`, {});
      return c.status === 200 && c.body.status === 'closed' ? c.body : undefined;
    });
    expect(closed.status).toBe('closed');
    // UnionPay's "no such order" (respCode 34) means "state unknown" by its own rules: the order
    // cannot be closed on it, and waits for a definite answer (or the reconciliation file).
    const u = await attempt(sims.unionpay.sim, 'unionpay_qr', 'serverErrorPerMille');
    const c = await m.signed('POST', `/v1/merchant/orders/${u.order_no}/close`, {});
    expect([c.status, c.body.error?.code]).toEqual([409, 'payment_in_progress']);
    expect((await statusOf(u.order_no)).status).toBe('unknown');
  });

  it('applies out-of-order notifications and survives channel latency', async () => {
    sims.wechatpay.sim.setFaults({ outOfOrderNotifications: true, latencyMs: 200 });
    try {
      const a = await order(101);
      const b = await order(102);
      for (const o of [a, b]) await payAtCashier(o, { method: 'wechat_native' });
      for (const o of [a, b]) {
        const leg = (await ok('GET', `/v1/payment-orders/${o.order_no}`)).legs[0];
        await fetch(`${sims.wechatpay.sim.url}/__sim/trades/${leg.out_trade_no}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      }
      for (const o of [a, b]) await until('paid', async () => (await statusOf(o.order_no)).status === 'succeeded');
    } finally {
      sims.wechatpay.sim.setFaults({ outOfOrderNotifications: false, latencyMs: 0 });
    }
  });

  it('keeps the ledger balanced', async () => {
    expect((await s.server.runtime.ledger.verify()).violations).toEqual([]);
  });
});
