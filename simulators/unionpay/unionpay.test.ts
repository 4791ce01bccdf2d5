// Proves the UnionPay QR simulator and unionPayAdapter agree on ACP 5.1.0 end to end: QR pay, signed back notifications, query, lapse, refunds, the reconciliation file, signatures both ways and every fault knob.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { businessNo, IdGenerator } from '../../src/kernel/ids.js';
import type { CallContext, ChannelEvent, HttpRequestSpec, HttpResponseData, PayRequest } from '../../src/modules/channels/adapter.js';
import { unionPayAdapter, type UnionPayConfig } from '../../src/modules/channels/adapters/unionpay/unionpay.adapter.js';
import { acpParseForm } from '../../src/modules/channels/adapters/unionpay/unionpay.codec.js';
import { sendChannelRequest } from '../../src/modules/channels/http-exec.js';
import type { Faults } from '../common/faults.js';
import { createUnionPayPlatform, createUnionPayTestAccount, startUnionPaySimulator, type RunningUnionPaySimulator } from './index.js';
import { signWith } from './unionpay.protocol.js';
import { merchantFeeFen } from './unionpay.statement.js';

const ids = new IdGenerator({ workerId: 7 });
const orderNo = (prefix = 'P') => businessNo(prefix, ids.next());
const cx = (): CallContext => ({ now: new Date(), nonce: randomBytes(12).toString('hex') });

let sim: RunningUnionPaySimulator;
let cfg: UnionPayConfig;
let notifyServer: Server;
let notifyUrl: string;
type Received = { ok: true; event: ChannelEvent; body: string } | { ok: false; code: string };
const received: Received[] = [];

async function send(spec: HttpRequestSpec, timeoutMs = 5000): Promise<HttpResponseData> {
  const r = await sendChannelRequest(spec, { timeoutMs });
  if (!r.ok) throw new Error(`request lost: ${r.reason}`);
  return r.response;
}

async function control(path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${sim.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const setFaults = (f: Partial<Faults>) => control('/__sim/faults', f);

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function payRequest(over: Partial<PayRequest> = {}): PayRequest {
  return { outTradeNo: orderNo(), amountMinor: 10000n, currency: 'CNY', subject: 'QR order', expiresAt: new Date(Date.now() + 3600_000), notifyUrl, method: 'unionpay_qr', ...over };
}

async function pay(req: PayRequest) {
  return unionPayAdapter.parsePay(cfg, req, await send(unionPayAdapter.buildPay(cfg, req, cx())), cx());
}

async function query(outTradeNo: string) {
  return unionPayAdapter.parseQuery(cfg, await send(unionPayAdapter.buildQuery(cfg, { outTradeNo }, cx())), cx());
}

/** Pays an order through the payer's app and waits for its verified notification. */
async function paidOrder(amountMinor = 10000n) {
  const req = payRequest({ amountMinor });
  expect((await pay(req)).kind).toBe('accepted');
  expect((await control(`/__sim/trades/${req.outTradeNo}/pay`, { result: 'success' })).status).toBe(200);
  const event = await waitFor('payment notification', () => paymentEvents(req.outTradeNo)[0]);
  return { req, event };
}

function paymentEvents(outTradeNo: string): ChannelEvent[] {
  return received.flatMap((r) => (r.ok && r.event.outTradeNo === outTradeNo && r.event.type === 'payment' ? [r.event] : []));
}

beforeAll(async () => {
  notifyServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const r = unionPayAdapter.verifyNotification(cfg, { headers, body }, cx());
      received.push(r.ok ? { ok: true, event: r.event, body } : { ok: false, code: r.code });
      const answer = r.ok ? r.ack : r.nack;
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => notifyServer.listen(0, '127.0.0.1', resolve));
  notifyUrl = `http://127.0.0.1:${(notifyServer.address() as AddressInfo).port}/notify/unionpay`;
  sim = await startUnionPaySimulator({ seed: 42 });
  const account = await createUnionPayTestAccount({ baseUrl: sim.url, trust: sim.trust, defaultBackUrl: notifyUrl });
  sim.registerMerchant(account.merchant);
  const parsed = unionPayAdapter.parseConfig(account.config);
  if (!parsed.ok) throw new Error(parsed.message);
  cfg = parsed.config;
});

afterAll(async () => {
  await sim?.close();
  await new Promise((r) => notifyServer?.close(r));
});

beforeEach(async () => {
  await control('/__sim/reset', {});
  received.splice(0);
});

describe('UnionPay QR payments', () => {
  it('pays: QR code, payer pays, signed notification verified and acknowledged, query shows success', async () => {
    const req = payRequest({ amountMinor: 12345n });
    const accepted = await pay(req);
    expect(accepted).toMatchObject({ kind: 'accepted', action: { type: 'qr_code' } });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending', amountMinor: 12345n });
    await control(`/__sim/trades/${req.outTradeNo}/pay`, { result: 'success' });
    const event = await waitFor('payment notification', () => paymentEvents(req.outTradeNo)[0]);
    expect(event).toMatchObject({ type: 'payment', status: 'succeeded', amountMinor: 12345n, currency: 'CNY' });
    const q = await query(req.outTradeNo);
    expect(q).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 12345n, channelTradeNo: event.type === 'payment' ? event.channelTradeNo : '' });
    expect(q.kind === 'found' && q.paidAt instanceof Date).toBe(true);
    const attempts = (await control('/__sim/notifications')).json as Array<{ status: number }>;
    expect(attempts.map((a) => a.status)).toEqual([200]);
  });

  it('answers a resent order with the same code and refuses the same order number with other content', async () => {
    const req = payRequest({ amountMinor: 300n });
    const first = await pay(req);
    expect(first).toMatchObject({ kind: 'accepted' });
    expect(await pay(req)).toEqual(first);
    // 12 (重复交易) may hide our own earlier order, so it is never taken as a decline.
    expect(await pay({ ...req, amountMinor: 301n })).toMatchObject({ kind: 'unknown' });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', amountMinor: 300n });
  });

  it('refuses to close a payable order, reports the lapsed one closed, and already_paid for a paid one', async () => {
    const open = payRequest();
    await pay(open);
    const close = async (outTradeNo: string) => unionPayAdapter.parseClose(cfg, await send(unionPayAdapter.buildClose(cfg, { outTradeNo }, cx())), cx());
    expect(await close(open.outTradeNo)).toMatchObject({ kind: 'declined', code: 'ORDER_OPEN' });

    const lapsing = payRequest({ expiresAt: new Date(Date.now() + 1000) });
    expect(await pay(lapsing)).toMatchObject({ kind: 'accepted' });
    await waitFor('the code to lapse', async () => ((await control(`/__sim/trades/${lapsing.outTradeNo}`)).json.status === 'closed' ? true : undefined));
    expect(await close(lapsing.outTradeNo)).toEqual({ kind: 'closed' });
    expect(await query(lapsing.outTradeNo)).toMatchObject({ kind: 'found', status: 'closed' });
    expect((await control(`/__sim/trades/${lapsing.outTradeNo}/pay`, { result: 'success' })).status).toBe(409);

    const { req } = await paidOrder();
    expect(await close(req.outTradeNo)).toEqual({ kind: 'already_paid' });
  });

  it('refunds in parts up to the paid amount, refuses more, and reports refunds by query and notification', async () => {
    const { req, event } = await paidOrder(10000n);
    const channelTradeNo = event.type === 'payment' ? event.channelTradeNo : undefined;
    // Refunds name the payment by its queryId; without it, by origOrderId + origTxnTime.
    const refund = async (outRefundNo: string, refundMinor: bigint, byQueryId = true) => {
      const r = { outTradeNo: req.outTradeNo, ...(channelTradeNo && byQueryId ? { channelTradeNo } : {}), outRefundNo, refundMinor, totalMinor: 10000n, currency: 'CNY', notifyUrl };
      return unionPayAdapter.parseRefund(cfg, await send(unionPayAdapter.buildRefund(cfg, r, cx())), cx());
    };
    const r1 = orderNo('R');
    const first = await refund(r1, 3000n);
    expect(first).toMatchObject({ kind: 'accepted', status: 'processing' });
    // The same refund sent again is the same refund.
    expect(await refund(r1, 3000n)).toEqual(first);
    expect(await refund(orderNo('R'), 5000n)).toMatchObject({ kind: 'accepted' });
    expect(await refund(orderNo('R'), 2001n)).toMatchObject({ kind: 'declined', code: '36' });
    const last = orderNo('R');
    expect(await refund(last, 2000n, false)).toMatchObject({ kind: 'accepted' });

    const refundEvent = await waitFor('refund notification', () =>
      received.flatMap((r) => (r.ok && r.event.type === 'refund' && r.event.outRefundNo === last ? [r.event] : []))[0],
    );
    expect(refundEvent).toMatchObject({ type: 'refund', outTradeNo: req.outTradeNo, status: 'succeeded', refundMinor: 2000n });
    const rq = unionPayAdapter.parseRefundQuery(cfg, await send(unionPayAdapter.buildRefundQuery(cfg, { outTradeNo: req.outTradeNo, outRefundNo: r1 }, cx())), cx());
    expect(rq).toMatchObject({ kind: 'found', status: 'succeeded', refundMinor: 3000n });
    const view = (await control(`/__sim/trades/${req.outTradeNo}`)).json;
    expect(view.refundedFen).toBe(10000);
  });

  it('downloads the reconciliation file and parses payments, refunds and totals', async () => {
    const { req, event } = await paidOrder(10000n);
    const outRefundNo = orderNo('R');
    const rr = { outTradeNo: req.outTradeNo, channelTradeNo: event.type === 'payment' ? event.channelTradeNo : '', outRefundNo, refundMinor: 2500n, totalMinor: 10000n, currency: 'CNY', notifyUrl };
    await send(unionPayAdapter.buildRefund(cfg, rr, cx()));
    await waitFor('refund success', async () => ((await control(`/__sim/trades/${req.outTradeNo}`)).json.refunds[0]?.status === 'succeeded' ? true : undefined));
    const view = (await control(`/__sim/trades/${req.outTradeNo}`)).json;
    const date = view.settleDate as string;
    const spec = unionPayAdapter.buildStatement(cfg, { date }, cx());
    const result = unionPayAdapter.parseStatement(cfg, await send(spec), cx());
    if (result.kind !== 'lines') throw new Error(`expected lines, got ${JSON.stringify(result)}`);
    const fee = BigInt(merchantFeeFen(10000));
    const refundFee = BigInt(merchantFeeFen(2500));
    expect(result.totals).toEqual({ count: 2, amountMinor: 7500n, feeMinor: fee - refundFee });
    const payment = result.lines.find((l) => l.kind === 'payment');
    const refundLine = result.lines.find((l) => l.kind === 'refund');
    expect(payment).toMatchObject({ outTradeNo: req.outTradeNo, channelTradeNo: view.queryId, amountMinor: 10000n, feeMinor: fee, currency: 'CNY' });
    expect(refundLine).toMatchObject({ outTradeNo: req.outTradeNo, outRefundNo, channelTradeNo: view.queryId, amountMinor: 2500n, feeMinor: refundFee });
    expect(Math.abs(payment!.occurredAt.getTime() - Date.now())).toBeLessThan(3600_000);

    const future = new Date(Date.now() + 3 * 24 * 3600_000 + 8 * 3600_000).toISOString().slice(0, 10);
    expect(unionPayAdapter.parseStatement(cfg, await send(unionPayAdapter.buildStatement(cfg, { date: future }, cx())), cx())).toEqual({ kind: 'not_ready' });
  });
});

describe('UnionPay signatures', () => {
  it('refuses a request altered after signing (respCode 11) and creates nothing', async () => {
    const req = payRequest({ amountMinor: 100n });
    const spec = unionPayAdapter.buildPay(cfg, req, cx());
    const tampered = { ...spec, body: spec.body!.replace('txnAmt=100', 'txnAmt=1') };
    expect(tampered.body).not.toEqual(spec.body);
    expect(unionPayAdapter.parsePay(cfg, req, await send(tampered), cx())).toMatchObject({ kind: 'declined', code: '11' });
    expect((await control(`/__sim/trades/${req.outTradeNo}`)).status).toBe(404);
    // The untouched request goes through.
    expect(unionPayAdapter.parsePay(cfg, req, await send(spec), cx())).toMatchObject({ kind: 'accepted' });
  });

  it('rejects forged and altered notifications', async () => {
    const { event } = await paidOrder(500n);
    const genuine = received.find((r): r is Extract<Received, { ok: true }> => r.ok && r.event === event)!;
    const altered = genuine.body.replace('txnAmt=500', 'txnAmt=5');
    expect(unionPayAdapter.verifyNotification(cfg, { headers: {}, body: altered }, cx())).toMatchObject({ ok: false, code: 'bad_signature' });
    // A notice signed by someone else's key and certificate does not chain to the trusted root.
    const rogue = await createUnionPayPlatform();
    const fields = acpParseForm(genuine.body)!;
    const forged: Record<string, string> = { ...fields, txnAmt: '999999', signPubKeyCert: rogue.signCertPem };
    delete forged['signature'];
    forged['signature'] = signWith(forged, rogue.signKey);
    const r = unionPayAdapter.verifyNotification(cfg, { headers: {}, body: new URLSearchParams(forged).toString() }, cx());
    expect(r).toMatchObject({ ok: false, code: 'bad_signature' });
    if (!r.ok) expect(r.nack.status).not.toBe(200);
  });
});

describe('UnionPay fault knobs', () => {
  it('decline: a refused QR application is declined (no money can move)', async () => {
    await setFaults({ declinePerMille: 1000 });
    const req = payRequest();
    expect(await pay(req)).toMatchObject({ kind: 'declined', code: '30', retryable: true });
    expect((await control(`/__sim/trades/${req.outTradeNo}`)).status).toBe(404);
  });

  it('5xx: an HTTP 500 is unknown', async () => {
    await setFaults({ serverErrorPerMille: 1000 });
    expect(await pay(payRequest())).toMatchObject({ kind: 'unknown' });
  });

  it('timeout: no answer is reported lost by the sender', async () => {
    await setFaults({ timeoutPerMille: 1000 });
    const r = await sendChannelRequest(unionPayAdapter.buildPay(cfg, payRequest(), cx()), { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, lost: true });
  });

  it('unknown outcome: the order exists although the answer was lost or 5xx', async () => {
    await setFaults({ unknownOutcomePerMille: 1000 });
    const req = payRequest({ amountMinor: 777n });
    const r = await sendChannelRequest(unionPayAdapter.buildPay(cfg, req, cx()), { timeoutMs: 2000 });
    if (r.ok) expect(unionPayAdapter.parsePay(cfg, req, r.response, cx())).toMatchObject({ kind: 'unknown' });
    else expect(r.lost).toBe(true);
    await setFaults({ unknownOutcomePerMille: 0 });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending', amountMinor: 777n });
  });

  it('maintenance: pay is declined as retryable (02) and queries are unknown', async () => {
    const req = payRequest();
    await setFaults({ maintenance: true });
    expect(await pay(req)).toMatchObject({ kind: 'declined', code: '02', retryable: true });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'unknown' });
  });

  it('duplicate notifications arrive twice', async () => {
    await setFaults({ duplicateNotifications: true });
    const { req } = await paidOrder();
    await waitFor('second delivery', () => (paymentEvents(req.outTradeNo).length >= 2 ? true : undefined));
    expect(paymentEvents(req.outTradeNo)).toHaveLength(2);
  });

  it('out-of-order notifications arrive newest first', async () => {
    await setFaults({ outOfOrderNotifications: true });
    const first = payRequest();
    const second = payRequest();
    await pay(first);
    await pay(second);
    await control(`/__sim/trades/${first.outTradeNo}/pay`, {});
    await control(`/__sim/trades/${second.outTradeNo}/pay`, {});
    await waitFor('both notifications', () => (received.length >= 2 ? true : undefined));
    const order = received.flatMap((r) => (r.ok ? [r.event.outTradeNo] : []));
    expect(order).toEqual([second.outTradeNo, first.outTradeNo]);
  });

  it('wrong-amount notifications carry an amount that does not match the order', async () => {
    await setFaults({ notifyAmountDeltaMinor: 100 });
    const { event } = await paidOrder(1000n);
    expect(event.type === 'payment' && event.amountMinor).toBe(1100n);
    expect(await query(event.outTradeNo)).toMatchObject({ kind: 'found', amountMinor: 1000n });
  });

  it('refuses bad fault settings', async () => {
    expect((await setFaults({ declinePerMille: 2000 })).status).toBe(400);
    expect((await setFaults({ bogus: 1 } as Partial<Faults>)).status).toBe(400);
  });
});
