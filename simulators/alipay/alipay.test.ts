// Proves the Alipay adapter and simulator agree end to end over loopback: signed QR and page pay, notifications, close, expiry, refunds, the two-hop GBK bill, refusal of tampered requests and notifications, and every fault knob.
import { createPrivateKey, createSign, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CallContext, ChannelEvent, HttpRequestSpec, HttpResponseData, PayRequest, PayResult, RefundRequest } from '../../src/modules/channels/adapter.js';
import { alipayAdapter, type AlipayConfig } from '../../src/modules/channels/adapters/alipay/alipay.adapter.js';
import { sendChannelRequest } from '../../src/modules/channels/http-exec.js';
import { createAlipayTestAccount, startAlipaySimulator, type AlipayTestAccount, type AlipayTradeView, type RunningAlipaySimulator } from './index.js';

let sim: RunningAlipaySimulator;
let account: AlipayTestAccount;
let cfg: AlipayConfig;
let notifyServer: Server;
let notifyUrl: string;
const received: Array<{ body: string; event?: ChannelEvent; ackBody: string }> = [];

const cx = (now = new Date()): CallContext => ({ now, nonce: randomBytes(12).toString('hex') });
let seq = 0;
const outNo = () => `T${Date.now()}${String(++seq).padStart(4, '0')}`;

function configOf(raw: unknown): AlipayConfig {
  const r = alipayAdapter.parseConfig(raw);
  if (!r.ok) throw new Error(r.message);
  return r.config;
}

async function send(spec: HttpRequestSpec, timeoutMs = 5000): Promise<HttpResponseData> {
  const r = await sendChannelRequest(spec, { timeoutMs });
  if (!r.ok) throw new Error(`request lost: ${r.reason}`);
  return r.response;
}

function payReq(over: Partial<PayRequest> = {}): PayRequest {
  return { outTradeNo: outNo(), amountMinor: 1234n, currency: 'CNY', subject: '测试商品 / test', expiresAt: new Date(Date.now() + 30 * 60_000), notifyUrl, method: 'alipay_qr', ...over };
}

async function pay(req: PayRequest, c = cfg): Promise<PayResult | { kind: 'lost' }> {
  const r = await sendChannelRequest(alipayAdapter.buildPay(c, req, cx()), { timeoutMs: 3000 });
  return r.ok ? alipayAdapter.parsePay(c, req, r.response, cx()) : { kind: 'lost' };
}

const query = async (outTradeNo: string) => alipayAdapter.parseQuery(cfg, await send(alipayAdapter.buildQuery(cfg, { outTradeNo }, cx())), cx());
const close = async (outTradeNo: string) => alipayAdapter.parseClose(cfg, await send(alipayAdapter.buildClose(cfg, { outTradeNo }, cx())), cx());
const refundQuery = async (outTradeNo: string, outRefundNo: string) =>
  alipayAdapter.parseRefundQuery(cfg, await send(alipayAdapter.buildRefundQuery(cfg, { outTradeNo, outRefundNo }, cx())), cx());

function refundReq(outTradeNo: string, outRefundNo: string, refundMinor: bigint, totalMinor: bigint): RefundRequest {
  return { outTradeNo, outRefundNo, refundMinor, totalMinor, currency: 'CNY', reason: '测试退款' };
}
const refund = async (req: RefundRequest) => alipayAdapter.parseRefund(cfg, await send(alipayAdapter.buildRefund(cfg, req, cx())), cx());

async function simPost(path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${sim.url}${path}`, body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}
const payerPays = (outTradeNo: string, result: 'success' | 'fail' = 'success') => simPost(`/__sim/trades/${outTradeNo}/pay`, { result });
async function simTrade(outTradeNo: string): Promise<{ status: number; trade?: AlipayTradeView }> {
  const res = await fetch(`${sim.url}/__sim/trades/${outTradeNo}`);
  return res.status === 200 ? { status: 200, trade: (await res.json()) as AlipayTradeView } : { status: res.status };
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const eventsFor = (outTradeNo: string) => received.filter((r) => r.event?.outTradeNo === outTradeNo).map((r) => r.event!);

beforeAll(async () => {
  sim = await startAlipaySimulator({ seed: 42, notifyRetryScheduleMs: [100, 300] });
  account = createAlipayTestAccount(sim);
  sim.registerApp(account.registration);
  cfg = configOf(account.config);
  notifyServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const r = alipayAdapter.verifyNotification(cfg, { headers, body }, cx());
      const answer = r.ok ? r.ack : r.nack;
      received.push(r.ok ? { body, event: r.event, ackBody: answer.body } : { body, ackBody: answer.body });
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  await new Promise<void>((r) => notifyServer.listen(0, '127.0.0.1', r));
  notifyUrl = `http://127.0.0.1:${(notifyServer.address() as AddressInfo).port}/alipay/notify`;
});

afterAll(async () => {
  await sim?.close();
  await new Promise((r) => notifyServer?.close(r));
});

beforeEach(async () => {
  await simPost('/__sim/reset');
  received.length = 0;
});

describe('pay', () => {
  it('QR pay: precreate, the payer pays, the notification verifies and is acknowledged, the query shows the paid amount', async () => {
    const req = payReq();
    const r = await pay(req);
    expect(r.kind).toBe('accepted');
    if (r.kind !== 'accepted' || r.action.type !== 'qr_code') throw new Error('expected a QR code');
    expect(r.action.codeUrl.startsWith(`${sim.url}/qr/`)).toBe(true);
    // Alipay creates the trade only when the code is scanned: until then the query finds nothing.
    expect(await query(req.outTradeNo)).toEqual({ kind: 'not_found' });
    expect((await fetch(r.action.codeUrl)).status).toBe(200);

    expect((await payerPays(req.outTradeNo)).status).toBe(200);
    const ev = await waitFor('the payment notification', () => eventsFor(req.outTradeNo)[0]);
    expect(ev).toMatchObject({ type: 'payment', status: 'succeeded', amountMinor: 1234n, currency: 'CNY' });
    expect(received.every((x) => x.ackBody === 'success')).toBe(true);
    await waitFor('the acknowledged attempt', () => sim.notifications().find((a) => a.key === `${req.outTradeNo}:TRADE_SUCCESS` && a.status === 200));

    const q = await query(req.outTradeNo);
    expect(q).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 1234n, currency: 'CNY' });
    if (q.kind !== 'found' || ev.type !== 'payment') throw new Error('unreachable');
    expect(q.channelTradeNo).toBe(ev.channelTradeNo);
    expect(q.paidAt).toBeInstanceOf(Date);
  });

  it('page pay: the adapter hands over a signed form that the gateway accepts, and the cashier flow completes it', async () => {
    const req = payReq({ method: 'alipay_page', returnUrl: 'https://shop.example/return' });
    const r = await pay(req);
    if (r.kind !== 'accepted' || r.action.type !== 'form_post') throw new Error(`expected a form, got ${JSON.stringify(r)}`);
    expect(r.action.url.startsWith(sim.gatewayUrl)).toBe(true);
    expect(r.action.fields).toMatchObject({ method: 'alipay.trade.page.pay', app_id: account.config.appId, sign_type: 'RSA2', return_url: 'https://shop.example/return' });
    expect(JSON.parse(r.action.fields['biz_content']!)).toMatchObject({ out_trade_no: req.outTradeNo, total_amount: '12.34', product_code: 'FAST_INSTANT_TRADE_PAY' });
    // The payer's browser posts the form.
    const page = await fetch(r.action.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(r.action.fields).toString() });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain(req.outTradeNo);
    expect(html).toContain('12.34');
    await payerPays(req.outTradeNo);
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 1234n });
  });

  it('a repeated out_trade_no repeats the order; other content is refused; a paid one is never reported as declined', async () => {
    const req = payReq();
    const first = await pay(req);
    const again = await pay(req);
    expect(again).toEqual(first);
    const changed = await pay({ ...req, amountMinor: 999n });
    expect(changed.kind).toBe('unknown');
    expect(JSON.stringify(changed)).toContain('ACQ.CONTEXT_INCONSISTENT');
    await payerPays(req.outTradeNo);
    const paid = await pay(req);
    expect(paid.kind).toBe('unknown');
    expect(JSON.stringify(paid)).toContain('ACQ.TRADE_HAS_SUCCESS');
  });
});

describe('close and expiry', () => {
  it('an unscanned code has no trade to close; a scanned unpaid trade closes and can no longer be paid', async () => {
    const req = payReq();
    await pay(req);
    expect(await close(req.outTradeNo)).toMatchObject({ kind: 'declined', code: 'ACQ.TRADE_NOT_EXIST' });
    expect((await simPost(`/__sim/trades/${req.outTradeNo}/scan`)).status).toBe(200);
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending', amountMinor: 1234n });
    expect(await close(req.outTradeNo)).toEqual({ kind: 'closed' });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'closed' });
    expect((await payerPays(req.outTradeNo)).status).toBe(409);
    // Closing a paid trade is refused, and the adapter does not guess whether it is paid or closed.
    const paidReq = payReq();
    await pay(paidReq);
    await payerPays(paidReq.outTradeNo);
    expect((await close(paidReq.outTradeNo)).kind).toBe('unknown');
  });

  it('an unpaid trade closes at its time_expire and Alipay announces TRADE_CLOSED', async () => {
    const req = payReq({ expiresAt: new Date(Date.now() + 2500) });
    await pay(req);
    await simPost(`/__sim/trades/${req.outTradeNo}/scan`);
    const ev = await waitFor('the close notification', () => eventsFor(req.outTradeNo).find((e) => e.type === 'payment' && e.status === 'closed'));
    expect(ev).toMatchObject({ type: 'payment', amountMinor: 1234n });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'closed' });
    expect((await payerPays(req.outTradeNo)).status).toBe(409);
  });
});

describe('refunds', () => {
  it('partial refunds up to the paid amount, the over-refund error, repeats, queries and refund notifications', async () => {
    const req = payReq({ amountMinor: 1000n });
    await pay(req);
    await payerPays(req.outTradeNo);
    const r1 = await refund(refundReq(req.outTradeNo, 'R1', 300n, 1000n));
    expect(r1).toMatchObject({ kind: 'accepted', status: 'succeeded' });
    if (r1.kind === 'accepted') expect(r1.refundedAt).toBeInstanceOf(Date);
    expect(await refund(refundReq(req.outTradeNo, 'R2', 800n, 1000n))).toMatchObject({ kind: 'declined', code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });
    expect(await refund(refundReq(req.outTradeNo, 'R2', 700n, 1000n))).toMatchObject({ kind: 'accepted', status: 'succeeded' });
    // A repeat moves no money (fund_change=N), so the adapter leaves the state to the refund query.
    expect(await refund(refundReq(req.outTradeNo, 'R1', 300n, 1000n))).toEqual({ kind: 'accepted', status: 'processing' });
    expect((await refund(refundReq(req.outTradeNo, 'R1', 200n, 1000n))).kind).toBe('unknown');
    expect(await refund(refundReq(req.outTradeNo, 'R3', 1n, 1000n))).toMatchObject({ kind: 'declined', code: 'ACQ.TRADE_STATUS_ERROR' });

    expect(await refundQuery(req.outTradeNo, 'R1')).toMatchObject({ kind: 'found', status: 'succeeded', refundMinor: 300n });
    const q2 = await refundQuery(req.outTradeNo, 'R2');
    expect(q2).toMatchObject({ kind: 'found', status: 'succeeded', refundMinor: 700n });
    if (q2.kind === 'found') expect(q2.refundedAt).toBeInstanceOf(Date);
    expect(await refundQuery(req.outTradeNo, 'R9')).toEqual({ kind: 'not_found' });
    expect(await refundQuery('NO_SUCH_TRADE', 'R1')).toEqual({ kind: 'not_found' });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'refunded', amountMinor: 1000n });

    // Alipay's refund notices carry the trade's cumulative refund_fee.
    const refunds = await waitFor('two refund notifications', () => {
      const evs = eventsFor(req.outTradeNo).filter((e) => e.type === 'refund');
      return evs.length >= 2 ? evs : undefined;
    });
    expect(refunds.map((e) => (e.type === 'refund' ? [e.outRefundNo, e.refundMinor] : []))).toEqual([
      ['R1', 300n],
      ['R2', 1000n],
    ]);
    const view = await simTrade(req.outTradeNo);
    expect(view.trade).toMatchObject({ status: 'TRADE_CLOSED', refundedMinor: 1000 });
  });
});

describe('statement', () => {
  async function statement(date: string) {
    let res = await send(alipayAdapter.buildStatement(cfg, { date }, cx()));
    for (let hop = 0; hop < 3; hop++) {
      const r = alipayAdapter.parseStatement(cfg, res, cx());
      if (r.kind !== 'next') return { result: r, lastResponse: res };
      res = await send(r.request);
    }
    throw new Error('too many hops');
  }

  it('follows the download link, unzips the GBK bill and reads payments, refunds, fees and totals', async () => {
    const a = payReq({ amountMinor: 10000n });
    const b = payReq({ amountMinor: 2345n });
    for (const r of [a, b]) {
      await pay(r);
      await payerPays(r.outTradeNo);
    }
    await refund(refundReq(a.outTradeNo, 'RA1', 2500n, 10000n));
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const { result, lastResponse } = await statement(today);
    expect(lastResponse.bytes?.subarray(0, 2).toString('latin1')).toBe('PK');
    if (result.kind !== 'lines') throw new Error(`expected lines, got ${JSON.stringify(result)}`);
    const byKey = Object.fromEntries(result.lines.map((l) => [`${l.kind}:${l.outTradeNo}`, l]));
    // 0.6 % service fee, rounded half up; a refund gives back its share of the fee.
    expect(byKey[`payment:${a.outTradeNo}`]).toMatchObject({ amountMinor: 10000n, feeMinor: 60n, currency: 'CNY', status: 'SUCCESS' });
    expect(byKey[`payment:${b.outTradeNo}`]).toMatchObject({ amountMinor: 2345n, feeMinor: 14n });
    expect(byKey[`refund:${a.outTradeNo}`]).toMatchObject({ amountMinor: 2500n, feeMinor: -15n, outRefundNo: 'RA1', status: 'REFUND' });
    expect(result.totals).toEqual({ count: 3, amountMinor: 10000n + 2345n - 2500n, feeMinor: 60n + 14n - 15n });
    for (const l of result.lines) expect(l.occurredAt).toBeInstanceOf(Date);
  });

  it('a bill that does not exist yet is not_ready', async () => {
    const { result } = await statement('2999-01-01');
    expect(result).toEqual({ kind: 'not_ready' });
  });
});

describe('refusals', () => {
  it('the gateway refuses a tampered or stale request, and nothing is created', async () => {
    const req = payReq();
    const spec = alipayAdapter.buildPay(cfg, req, cx());
    const tampered = { ...spec, body: spec.body!.replace('12.34', '0.01') };
    const res = await send(tampered);
    expect(JSON.parse(res.body).alipay_trade_precreate_response).toMatchObject({ code: '40002', sub_code: 'isv.invalid-signature' });
    expect(alipayAdapter.parsePay(cfg, req, res, cx())).toMatchObject({ kind: 'declined', code: 'isv.invalid-signature', retryable: true });
    expect((await simTrade(req.outTradeNo)).status).toBe(404);

    const staleSpec = alipayAdapter.buildPay(cfg, req, cx(new Date(Date.now() - 3_600_000)));
    expect(alipayAdapter.parsePay(cfg, req, await send(staleSpec), cx())).toMatchObject({ kind: 'declined', code: 'isv.invalid-timestamp' });

    const pageReq = payReq({ method: 'alipay_page' });
    const pageSpec = alipayAdapter.buildPay(cfg, pageReq, cx());
    const pageRes = await send({ ...pageSpec, body: pageSpec.body!.replace('12.34', '0.01') });
    expect(alipayAdapter.parsePay(cfg, pageReq, pageRes, cx())).toMatchObject({ kind: 'declined', code: 'isv.invalid-signature' });
  });

  it('the adapter refuses forged, tampered and misdirected notifications, and tampered answers', async () => {
    const req = payReq();
    await pay(req);
    await payerPays(req.outTradeNo);
    const genuine = await waitFor('a notification', () => received.find((r) => r.event?.outTradeNo === req.outTradeNo));
    const verify = (body: string, c = cfg) => alipayAdapter.verifyNotification(c, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }, cx());
    expect(verify(genuine.body).ok).toBe(true);

    const tampered = new URLSearchParams(genuine.body);
    tampered.set('total_amount', '99.99');
    const t = verify(tampered.toString());
    expect(t).toMatchObject({ ok: false, code: 'bad_signature' });
    if (!t.ok) expect(t.nack.body).not.toBe('success');

    // Forged: the same content re-signed with a key that is not Alipay's.
    const forgerKey = createPrivateKey({ key: Buffer.from(createAlipayTestAccount(sim).config.appPrivateKey, 'base64'), format: 'der', type: 'pkcs8' });
    const forged = new URLSearchParams(genuine.body);
    forged.set('total_amount', '99.99');
    const content = [...forged.keys()].filter((k) => k !== 'sign' && k !== 'sign_type').sort().map((k) => `${k}=${forged.get(k)}`).join('&');
    forged.set('sign', createSign('RSA-SHA256').update(content).sign(forgerKey, 'base64'));
    expect(verify(forged.toString())).toMatchObject({ ok: false, code: 'bad_signature' });
    // Genuine, but for another app.
    expect(verify(genuine.body, configOf({ ...account.config, appId: '2021000000000001' }))).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verify('not a notification')).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(genuine.ackBody).toBe('success');

    // A response altered in transit no longer verifies: unknown, never a result.
    const res = await send(alipayAdapter.buildQuery(cfg, { outTradeNo: req.outTradeNo }, cx()));
    expect(alipayAdapter.parseQuery(cfg, res, cx()).kind).toBe('found');
    expect(alipayAdapter.parseQuery(cfg, { ...res, body: res.body.replace('"12.34"', '"12.35"') }, cx()).kind).toBe('unknown');
  });
});

describe('faults', () => {
  const setFaults = (patch: unknown) => simPost('/__sim/faults', patch);

  it('the control endpoint refuses bad knobs', async () => {
    expect((await setFaults({ declinePerMille: 2000 })).status).toBe(400);
    expect((await setFaults({ nonsense: true })).status).toBe(400);
    expect((await setFaults({ latencyMs: 20 })).json).toMatchObject({ latencyMs: 20 });
    expect((await pay(payReq())).kind).toBe('accepted');
  });

  it('decline: pay and refund are refused with business errors that prove nothing moved', async () => {
    const paid = payReq();
    await pay(paid);
    await payerPays(paid.outTradeNo);
    await setFaults({ declinePerMille: 1000 });
    const req = payReq();
    expect(await pay(req)).toMatchObject({ kind: 'declined', code: 'ACQ.BEYOND_PER_RECEIPT_RESTRICTION', retryable: true });
    expect((await simTrade(req.outTradeNo)).status).toBe(404);
    expect(await refund(refundReq(paid.outTradeNo, 'RD', 100n, 1234n))).toMatchObject({ kind: 'declined', code: 'ACQ.SELLER_BALANCE_NOT_ENOUGH' });
    expect(await refundQuery(paid.outTradeNo, 'RD')).toEqual({ kind: 'not_found' });
  });

  it('5xx: the outcome is unknown', async () => {
    await setFaults({ serverErrorPerMille: 1000 });
    const req = payReq();
    expect(await pay(req)).toMatchObject({ kind: 'unknown' });
    expect((await query(req.outTradeNo)).kind).toBe('unknown');
  });

  it('timeout: the sender reports the request lost', async () => {
    await setFaults({ timeoutPerMille: 1000 });
    const r = await sendChannelRequest(alipayAdapter.buildPay(cfg, payReq(), cx()), { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, lost: true });
  });

  it('unknown outcome: the pay and the refund are applied, only later queries tell', async () => {
    await setFaults({ unknownOutcomePerMille: 1000 });
    const req = payReq();
    expect(['unknown', 'lost']).toContain((await pay(req)).kind);
    await setFaults({ unknownOutcomePerMille: 0 });
    await payerPays(req.outTradeNo);
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 1234n });

    await setFaults({ unknownOutcomePerMille: 1000 });
    const r = await sendChannelRequest(alipayAdapter.buildRefund(cfg, refundReq(req.outTradeNo, 'RU', 234n, 1234n), cx()), { timeoutMs: 3000 });
    expect(r.ok ? alipayAdapter.parseRefund(cfg, r.response, cx()).kind : 'lost').not.toBe('accepted');
    await setFaults({ unknownOutcomePerMille: 0 });
    expect(await refundQuery(req.outTradeNo, 'RU')).toMatchObject({ kind: 'found', status: 'succeeded', refundMinor: 234n });
  });

  it('duplicate notifications arrive twice', async () => {
    await setFaults({ duplicateNotifications: true });
    const req = payReq();
    await pay(req);
    await payerPays(req.outTradeNo);
    const evs = await waitFor('two notifications', () => (eventsFor(req.outTradeNo).length >= 2 ? eventsFor(req.outTradeNo) : undefined));
    expect(evs.every((e) => e.type === 'payment' && e.status === 'succeeded')).toBe(true);
  });

  it('out-of-order notifications: the refund notice arrives before the payment notice', async () => {
    await setFaults({ outOfOrderNotifications: true });
    const req = payReq();
    await pay(req);
    await payerPays(req.outTradeNo);
    await refund(refundReq(req.outTradeNo, 'RO', 100n, 1234n));
    const evs = await waitFor('both notifications', () => (eventsFor(req.outTradeNo).length >= 2 ? eventsFor(req.outTradeNo) : undefined));
    expect(evs.map((e) => e.type)).toEqual(['refund', 'payment']);
  });

  it('wrong-amount notifications carry a different amount than the trade', async () => {
    await setFaults({ notifyAmountDeltaMinor: 5 });
    const req = payReq();
    await pay(req);
    await payerPays(req.outTradeNo);
    const ev = await waitFor('the notification', () => eventsFor(req.outTradeNo)[0]);
    expect(ev).toMatchObject({ type: 'payment', amountMinor: 1239n });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', amountMinor: 1234n });
  });

  it('maintenance: every call answers 20000 service unavailable, which is never a decline', async () => {
    await setFaults({ maintenance: true });
    const req = payReq();
    const r = await pay(req);
    expect(r.kind).toBe('unknown');
    expect(JSON.stringify(r)).toContain('isp.unknow-error');
    expect((await query(req.outTradeNo)).kind).toBe('unknown');
    expect((await pay(payReq({ method: 'alipay_page' }))).kind).toBe('unknown');
    const bill = alipayAdapter.parseStatement(cfg, await send(alipayAdapter.buildStatement(cfg, { date: '2024-01-01' }, cx())), cx());
    expect(bill.kind).toBe('unknown');
    expect((await simTrade(req.outTradeNo)).status).toBe(404);
  });
});
