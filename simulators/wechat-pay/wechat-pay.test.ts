// Proves the WeChat Pay adapter and simulator agree over loopback: signed pay/query/close/refund/bill flows, verified notifications, refused forgeries, and every fault knob.
import { createCipheriv, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HttpRequestSpec, HttpResponseData, NotificationResult, PayRequest, RefundRequest } from '../../src/modules/channels/adapter.js';
import { readWechatPayBillDownload, parseWechatPayBillFile, wechatPayAdapter as adapter, type WechatPayConfig } from '../../src/modules/channels/adapters/wechat-pay/wechat-pay.adapter.js';
import { buildWechatPayCertificatesRequest, parseWechatPayCertificatesResponse } from '../../src/modules/channels/adapters/wechat-pay/wechat-pay.certificates.js';
import { sendChannelRequest } from '../../src/modules/channels/http-exec.js';
import { createWechatPayTestAccount, generatePlatformIdentity, startWechatPaySimulator, type PlatformIdentity, type WechatPaySimulator, type WechatPayTestAccount } from './index.js';

let platform: PlatformIdentity;
let sim: WechatPaySimulator;
let account: WechatPayTestAccount;
let cfg: WechatPayConfig;
let notifyServer: Server;
let notifyUrl: string;
/** What the local notify endpoint saw: the raw request and the adapter's verdict. */
const received: { headers: Record<string, string>; body: string; result: NotificationResult }[] = [];

const cx = (offsetMs = 0) => ({ now: new Date(Date.now() + offsetMs), nonce: randomBytes(16).toString('hex') });
let seq = 0;
const tradeNo = () => `T${Date.now()}${++seq}`;

async function send(spec: HttpRequestSpec, timeoutMs = 5000): Promise<HttpResponseData> {
  const r = await sendChannelRequest(spec, { timeoutMs });
  if (!r.ok) throw new Error(`lost: ${r.reason}`);
  return r.response;
}

function payRequest(overrides: Partial<PayRequest> = {}): PayRequest {
  return { outTradeNo: tradeNo(), amountMinor: 100n, currency: 'CNY', subject: '测试商品', expiresAt: new Date(Date.now() + 15 * 60_000), notifyUrl, method: 'wechat_native', ...overrides };
}

async function pay(req: PayRequest) {
  return adapter.parsePay(cfg, req, await send(adapter.buildPay(cfg, req, cx())), cx());
}

async function query(outTradeNo: string) {
  return adapter.parseQuery(cfg, await send(adapter.buildQuery(cfg, { outTradeNo }, cx())), cx());
}

function refundRequest(outTradeNo: string, refundMinor: bigint, overrides: Partial<RefundRequest> = {}): RefundRequest {
  return { outTradeNo, outRefundNo: `R${tradeNo()}`, refundMinor, totalMinor: 100n, currency: 'CNY', reason: '退货', notifyUrl, ...overrides };
}

async function refund(req: RefundRequest) {
  return adapter.parseRefund(cfg, await send(adapter.buildRefund(cfg, req, cx())), cx());
}

async function control(path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(sim.url + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A paid Native trade of `amountMinor`, with its payment notification already received. */
async function paidTrade(amountMinor = 100n): Promise<string> {
  const req = payRequest({ amountMinor });
  expect((await pay(req)).kind).toBe('accepted');
  expect((await control(`/__sim/trades/${req.outTradeNo}/pay`, { result: 'success' })).status).toBe(200);
  await waitFor(() => received.find((r) => r.result.ok && r.result.event.outTradeNo === req.outTradeNo), 'payment notification');
  return req.outTradeNo;
}

function events(outTradeNo: string) {
  return received.flatMap((r) => (r.result.ok && r.result.event.outTradeNo === outTradeNo ? [r.result.event] : []));
}

beforeAll(async () => {
  platform = await generatePlatformIdentity();
  sim = await startWechatPaySimulator({ seed: 42, platform, refundDelayMs: 30, notifyRetryScheduleMs: [100, 300] });
  account = await createWechatPayTestAccount({ baseUrl: sim.url, platformCertificatePem: sim.platformCertificatePem });
  sim.registerMerchant(account.merchant);
  const parsed = adapter.parseConfig(account.config);
  if (!parsed.ok) throw new Error(parsed.message);
  cfg = parsed.config;
  notifyServer = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
      const result = adapter.verifyNotification(cfg, { headers, body }, cx());
      received.push({ headers, body, result });
      const reply = result.ok ? result.ack : result.nack;
      res.writeHead(reply.status, reply.headers).end(reply.body);
    });
  });
  await new Promise<void>((r) => notifyServer.listen(0, '127.0.0.1', r));
  notifyUrl = `http://127.0.0.1:${(notifyServer.address() as AddressInfo).port}/wechatpay/notify`;
});

afterAll(async () => {
  await sim?.close();
  if (notifyServer) await new Promise((r) => notifyServer.close(r));
});

beforeEach(async () => {
  expect((await control('/__sim/reset', {})).status).toBe(200);
  received.length = 0;
});

describe('payments', () => {
  it('native: QR code, payer pays, verified notification, query shows the paid amount', async () => {
    const req = payRequest({ amountMinor: 1234n });
    const accepted = await pay(req);
    expect(accepted).toMatchObject({ kind: 'accepted', action: { type: 'qr_code' } });
    if (accepted.kind !== 'accepted' || accepted.action.type !== 'qr_code') throw new Error('unreachable');
    expect(accepted.action.codeUrl).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending', amountMinor: 1234n });

    await control(`/__sim/trades/${req.outTradeNo}/pay`, { result: 'success' });
    const [event] = await waitFor(() => (events(req.outTradeNo).length ? events(req.outTradeNo) : undefined), 'notification');
    expect(event).toMatchObject({ type: 'payment', status: 'succeeded', amountMinor: 1234n, currency: 'CNY' });
    const q = await query(req.outTradeNo);
    expect(q).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 1234n, currency: 'CNY' });
    if (q.kind === 'found' && event?.type === 'payment') expect(q.channelTradeNo).toBe(event.channelTradeNo);
    // The notifier saw our 204 acknowledgement and did not retry.
    expect((await control('/__sim/notifications')).json).toHaveLength(1);
  });

  it('jsapi: prepay_id becomes signed wx.requestPayment parameters', async () => {
    const req = payRequest({ method: 'wechat_jsapi', payerOpenId: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    const r = await pay(req);
    if (r.kind !== 'accepted' || r.action.type !== 'jsapi') throw new Error(`expected jsapi action, got ${JSON.stringify(r)}`);
    const p = r.action.params;
    expect(p).toMatchObject({ appId: account.merchant.appid, signType: 'RSA' });
    expect(p['package']).toMatch(/^prepay_id=wx/);
    const message = `${p['appId']}\n${p['timeStamp']}\n${p['nonceStr']}\n${p['package']}\n`;
    expect(verify('sha256', Buffer.from(message), createPublicKey(account.merchant.publicKeyPem), Buffer.from(p['paySign']!, 'base64'))).toBe(true);
  });

  it('the same out_trade_no with the same content is idempotent, with other content refused', async () => {
    const req = payRequest();
    const first = await pay(req);
    expect(await pay(req)).toEqual(first);
    expect(await pay({ ...req, amountMinor: 999n })).toMatchObject({ kind: 'unknown', reason: expect.stringContaining('OUT_TRADE_NO_USED') });
  });

  it('close: an unpaid trade closes; a paid one reports already paid; unknown trades are not found', async () => {
    const req = payRequest();
    await pay(req);
    const closeRes = await send(adapter.buildClose(cfg, { outTradeNo: req.outTradeNo }, cx()));
    expect(closeRes.status).toBe(204);
    expect(adapter.parseClose(cfg, closeRes, cx())).toEqual({ kind: 'closed' });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'closed' });
    expect((await control(`/__sim/trades/${req.outTradeNo}/pay`, {})).status).toBe(409);

    const paid = await paidTrade();
    expect(adapter.parseClose(cfg, await send(adapter.buildClose(cfg, { outTradeNo: paid }, cx())), cx())).toEqual({ kind: 'already_paid' });
    expect(await query('NEVER-SEEN-123')).toEqual({ kind: 'not_found' });
  });

  it('payer states: USERPAYING and NOTPAY are pending, PAYERROR failed; an expired order cannot be paid', async () => {
    const a = payRequest();
    await pay(a);
    await control(`/__sim/trades/${a.outTradeNo}/pay`, { result: 'userpaying' });
    expect(await query(a.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending' });
    await control(`/__sim/trades/${a.outTradeNo}/pay`, { result: 'fail' });
    expect(await query(a.outTradeNo)).toMatchObject({ kind: 'found', status: 'failed' });

    const b = payRequest({ expiresAt: new Date(Date.now() + 1500) });
    await pay(b);
    await waitFor(async () => (await control(`/__sim/trades/${b.outTradeNo}`)).json['expired'] === true, 'expiry');
    expect((await control(`/__sim/trades/${b.outTradeNo}/pay`, {})).status).toBe(409);
    expect(await query(b.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending' });
  });
});

describe('refunds', () => {
  it('partial refunds up to the paid amount, the over-refund refused, duplicates and queries', async () => {
    const no = await paidTrade(100n);
    const r1 = refundRequest(no, 30n);
    expect(await refund(r1)).toMatchObject({ kind: 'accepted', status: 'processing' });
    expect(await refund(refundRequest(no, 50n))).toMatchObject({ kind: 'accepted' });
    expect(await refund(refundRequest(no, 21n))).toMatchObject({ kind: 'declined', code: 'INVALID_REQUEST' });
    // The same out_refund_no again answers the existing refund rather than refunding twice.
    const again = await refund(r1);
    expect(again.kind).toBe('accepted');
    expect(await refund(refundRequest(no, 20n))).toMatchObject({ kind: 'accepted' });
    expect((await control(`/__sim/trades/${no}`)).json).toMatchObject({ refundedMinor: 100, state: 'REFUND' });
    expect(await query(no)).toMatchObject({ kind: 'found', status: 'refunded', amountMinor: 100n });

    const refundEvent = await waitFor(() => received.find((r) => r.result.ok && r.result.event.type === 'refund' && r.result.event.outRefundNo === r1.outRefundNo), 'refund notification');
    expect(refundEvent.result).toMatchObject({ ok: true, event: { type: 'refund', status: 'succeeded', refundMinor: 30n } });
    const q = adapter.parseRefundQuery(cfg, await send(adapter.buildRefundQuery(cfg, { outTradeNo: no, outRefundNo: r1.outRefundNo }, cx())), cx());
    expect(q).toMatchObject({ kind: 'found', status: 'succeeded', refundMinor: 30n });
    if (q.kind === 'found') expect(q.refundedAt).toBeInstanceOf(Date);
    const missing = adapter.parseRefundQuery(cfg, await send(adapter.buildRefundQuery(cfg, { outTradeNo: no, outRefundNo: 'NOPE-1' }, cx())), cx());
    expect(missing).toEqual({ kind: 'not_found' });
  });

  it('refunds of unknown or unpaid trades are declined; abnormal and closed refunds are notified', async () => {
    expect(await refund(refundRequest('NO-SUCH-TRADE', 10n))).toMatchObject({ kind: 'declined', code: 'RESOURCE_NOT_EXISTS' });
    const unpaid = payRequest();
    await pay(unpaid);
    expect(await refund(refundRequest(unpaid.outTradeNo, 10n))).toMatchObject({ kind: 'declined', code: 'INVALID_REQUEST' });

    await control('/__sim/reset', {});
    const manual = await startWechatPaySimulator({ platform, refundDelayMs: -1, merchants: [account.merchant] });
    try {
      const mcfg = { ...cfg, baseUrl: manual.url };
      const req = payRequest();
      adapter.parsePay(mcfg, req, await send(adapter.buildPay(mcfg, req, cx())), cx());
      await fetch(`${manual.url}/__sim/trades/${req.outTradeNo}/pay`, { method: 'POST', body: '{}' });
      const abnormal = refundRequest(req.outTradeNo, 40n);
      const closed = refundRequest(req.outTradeNo, 60n);
      for (const r of [abnormal, closed]) expect(adapter.parseRefund(mcfg, await send(adapter.buildRefund(mcfg, r, cx())), cx())).toMatchObject({ kind: 'accepted', status: 'processing' });
      await fetch(`${manual.url}/__sim/refunds/${abnormal.outRefundNo}/result`, { method: 'POST', body: JSON.stringify({ result: 'abnormal' }) });
      await fetch(`${manual.url}/__sim/refunds/${closed.outRefundNo}/result`, { method: 'POST', body: JSON.stringify({ result: 'closed' }) });
      const refundEvents = await waitFor(() => {
        const list = received.flatMap((r) => (r.result.ok && r.result.event.type === 'refund' ? [r.result.event] : []));
        return list.length >= 2 ? list : undefined;
      }, 'abnormal and closed notifications');
      expect(refundEvents.find((e) => e.type === 'refund' && e.outRefundNo === abnormal.outRefundNo)).toMatchObject({ status: 'failed' });
      expect(refundEvents.find((e) => e.type === 'refund' && e.outRefundNo === closed.outRefundNo)).toMatchObject({ status: 'closed' });
      // A closed refund gives the money back to the refundable amount.
      expect(adapter.parseRefund(mcfg, await send(adapter.buildRefund(mcfg, refundRequest(req.outTradeNo, 60n), cx())), cx())).toMatchObject({ kind: 'accepted' });
    } finally {
      await manual.close();
    }
  });
});

describe('statements', () => {
  it('downloads the trade bill in two hops, checks its hash and totals', async () => {
    const a = await paidTrade(100n);
    const b = await paidTrade(250n);
    const r = refundRequest(a, 30n);
    expect(await refund(r)).toMatchObject({ kind: 'accepted' });
    const date = (await control(`/__sim/trades/${a}`)).json['successTime'] as string;
    const billDate = new Date(Date.parse(date) + 8 * 3_600_000).toISOString().slice(0, 10);

    const first = await send(adapter.buildStatement(cfg, { date: billDate }, cx()));
    const hop = adapter.parseStatement(cfg, first, cx());
    if (hop.kind !== 'next') throw new Error(`expected a download hop, got ${JSON.stringify(hop)}`);
    const file = await send(hop.request);
    expect(file.headers['wechatpay-signature']).toBeUndefined();
    expect(file.body.split('\r\n')[1]).toMatch(/^`\d{4}-\d{2}-\d{2} /);
    const result = adapter.parseStatement(cfg, file, cx());
    if (result.kind !== 'lines') throw new Error(`expected lines, got ${JSON.stringify(result)}`);
    expect(result.lines.map((l) => [l.kind, l.outTradeNo, l.amountMinor, l.feeMinor])).toEqual([
      ['payment', a, 100n, 1n],
      ['payment', b, 250n, 2n],
      ['refund', a, 30n, 0n],
    ]);
    expect(result.lines[2]).toMatchObject({ outRefundNo: r.outRefundNo, currency: 'CNY' });
    expect(result.totals).toEqual({ count: 3, amountMinor: 320n, feeMinor: 3n });

    // With the hash from the first hop the file is checked against it too; a changed byte fails.
    const dl = readWechatPayBillDownload(cfg, first, cx());
    if (dl.kind !== 'download') throw new Error('expected a download');
    expect(parseWechatPayBillFile(file, dl.hashValue)).toMatchObject({ kind: 'lines' });
    const tampered = Buffer.from(file.bytes!);
    tampered[tampered.length - 3] = 0x39;
    expect(parseWechatPayBillFile({ ...file, bytes: tampered, body: tampered.toString('utf8') }, dl.hashValue)).toMatchObject({ kind: 'unknown' });
    expect(adapter.parseStatement(cfg, { ...file, body: file.body.replaceAll('`2.50,', '`2.51,') }, cx())).toMatchObject({ kind: 'unknown' });

    // A day without trades has no bill: an empty statement.
    const empty = adapter.parseStatement(cfg, await send(adapter.buildStatement(cfg, { date: new Date(Date.parse(billDate) - 86_400_000).toISOString().slice(0, 10) }, cx())), cx());
    expect(empty).toEqual({ kind: 'lines', lines: [], totals: { count: 0, amountMinor: 0n, feeMinor: 0n } });
  });
});

describe('security', () => {
  it('bootstraps the platform certificates from GET /v3/certificates', async () => {
    const res = await send(buildWechatPayCertificatesRequest(cfg, cx()));
    const r = parseWechatPayCertificatesResponse(cfg, res, cx());
    if (!r.ok) throw new Error(r.message);
    expect(r.certificates).toHaveLength(1);
    expect(r.certificates[0]).toMatchObject({ serialNo: sim.platformSerialNo });
    expect(r.certificates[0]!.serialNo).toMatch(/^[0-9A-F]{40}$/);
    expect(r.certificates[0]!.expireTime.getTime()).toBeGreaterThan(Date.now());
    const withWrongKey = { ...cfg, apiV3Key: { reveal: () => Buffer.alloc(32, 1) } } as unknown as WechatPayConfig;
    expect(parseWechatPayCertificatesResponse(withWrongKey, res, cx())).toMatchObject({ ok: false });
  });

  it('refuses a tampered or stale request with 401 SIGN_ERROR', async () => {
    const req = payRequest();
    const spec = adapter.buildPay(cfg, req, cx());
    const tampered = await send({ ...spec, body: spec.body!.replace('"total":100', '"total":1') });
    expect(tampered.status).toBe(401);
    expect(JSON.parse(tampered.body)).toMatchObject({ code: 'SIGN_ERROR' });
    expect(adapter.parsePay(cfg, req, tampered, cx())).toMatchObject({ kind: 'declined', code: 'SIGN_ERROR' });
    const stale = await send(adapter.buildPay(cfg, req, cx(-10 * 60_000)));
    expect(stale.status).toBe(401);
    expect((await control(`/__sim/trades/${req.outTradeNo}`)).status).toBe(404);
  });

  it('refuses forged, tampered, stale and undecryptable notifications', async () => {
    await paidTrade();
    // Only the signature headers and content type travel again; hop-by-hop headers like content-length do not.
    const genuine = received[0]!;
    genuine.headers = Object.fromEntries(Object.entries(genuine.headers).filter(([k]) => k.startsWith('wechatpay-') || k === 'content-type'));
    const post = (headers: Record<string, string>, body: string) => fetch(notifyUrl, { method: 'POST', headers, body });

    const tampered = await post(genuine.headers, genuine.body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" '));
    expect(tampered.status).toBe(401);
    expect(await tampered.json()).toMatchObject({ code: 'FAIL' });
    expect(received.at(-1)!.result).toMatchObject({ ok: false, code: 'bad_signature' });

    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forgedBody = genuine.body;
    const ts = String(Math.floor(Date.now() / 1000));
    const forgedHeaders = { ...genuine.headers, 'wechatpay-timestamp': ts, 'wechatpay-signature': sign('sha256', Buffer.from(`${ts}\n${genuine.headers['wechatpay-nonce']}\n${forgedBody}\n`), attacker).toString('base64') };
    expect((await post(forgedHeaders, forgedBody)).status).toBe(401);
    expect(received.at(-1)!.result).toMatchObject({ ok: false, code: 'bad_signature' });

    expect(adapter.verifyNotification(cfg, { headers: genuine.headers, body: genuine.body }, cx(10 * 60_000))).toMatchObject({ ok: false, code: 'stale' });

    // Correctly signed by the platform, but encrypted under another key: the resource cannot be trusted.
    const iv = 'abcdefghijkl';
    const c = createCipheriv('aes-256-gcm', Buffer.alloc(32, 7), Buffer.from(iv));
    c.setAAD(Buffer.from('transaction'));
    const ct = Buffer.concat([c.update('{"mchid":"x"}'), c.final(), c.getAuthTag()]).toString('base64');
    const body = JSON.stringify({ id: 'x', event_type: 'TRANSACTION.SUCCESS', resource_type: 'encrypt-resource', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: ct, associated_data: 'transaction', nonce: iv } });
    const nonce = 'N0NCE1234567';
    const sig = sign('sha256', Buffer.from(`${ts}\n${nonce}\n${body}\n`), platform.privateKey).toString('base64');
    const headers = { 'wechatpay-timestamp': ts, 'wechatpay-nonce': nonce, 'wechatpay-signature': sig, 'wechatpay-serial': platform.serialNo };
    expect(adapter.verifyNotification(cfg, { headers, body }, cx())).toMatchObject({ ok: false, code: 'decrypt_failed' });
  });
});

describe('faults', () => {
  it('decline: pay and refund are declined, nothing applied', async () => {
    const no = await paidTrade();
    sim.setFaults({ declinePerMille: 1000 });
    const req = payRequest();
    expect(await pay(req)).toMatchObject({ kind: 'declined', code: 'TRADE_ERROR', retryable: true });
    expect(await refund(refundRequest(no, 10n))).toMatchObject({ kind: 'declined', code: 'NOT_ENOUGH' });
    sim.setFaults({ declinePerMille: 0 });
    expect(await query(req.outTradeNo)).toEqual({ kind: 'not_found' });
  });

  it('5xx: unknown', async () => {
    await control('/__sim/faults', { serverErrorPerMille: 1000 });
    const req = payRequest();
    expect(await pay(req)).toMatchObject({ kind: 'unknown', reason: expect.stringContaining('SYSTEM_ERROR') });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'unknown' });
  });

  it('timeout: the request gets no answer and is reported lost', async () => {
    sim.setFaults({ timeoutPerMille: 1000 });
    const r = await sendChannelRequest(adapter.buildPay(cfg, payRequest(), cx()), { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, lost: true });
  });

  it('unknown outcome: the order is placed but the answer is lost or a 5xx; a query shows it', async () => {
    sim.setFaults({ unknownOutcomePerMille: 1000 });
    for (let i = 0; i < 4; i++) {
      const req = payRequest();
      const r = await sendChannelRequest(adapter.buildPay(cfg, req, cx()), { timeoutMs: 2000 });
      if (r.ok) expect(adapter.parsePay(cfg, req, r.response, cx())).toMatchObject({ kind: 'unknown' });
      else expect(r.lost).toBe(true);
      expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending', amountMinor: 100n });
    }
  });

  it('maintenance: refused with FREQUENCY_LIMITED, a declined pay another channel may retry', async () => {
    await control('/__sim/faults', { maintenance: true });
    expect(await pay(payRequest())).toMatchObject({ kind: 'declined', code: 'FREQUENCY_LIMITED', retryable: true });
    expect(await query('ANY-123456')).toMatchObject({ kind: 'unknown' });
  });

  it('duplicate notifications arrive twice', async () => {
    sim.setFaults({ duplicateNotifications: true });
    const no = await paidTrade();
    await waitFor(() => (events(no).length >= 2 ? true : undefined), 'duplicate');
    expect(events(no).every((e) => e.type === 'payment' && e.status === 'succeeded')).toBe(true);
  });

  it('out-of-order notifications arrive newest first', async () => {
    sim.setFaults({ outOfOrderNotifications: true });
    const a = payRequest();
    const b = payRequest();
    await pay(a);
    await pay(b);
    await control(`/__sim/trades/${a.outTradeNo}/pay`, {});
    await control(`/__sim/trades/${b.outTradeNo}/pay`, {});
    await waitFor(() => (received.length >= 2 ? true : undefined), 'both notifications');
    expect(received.map((r) => (r.result.ok ? r.result.event.outTradeNo : '?'))).toEqual([b.outTradeNo, a.outTradeNo]);
  });

  it('wrong-amount notifications carry the altered amount, for the core to catch', async () => {
    sim.setFaults({ notifyAmountDeltaMinor: 7, notifyDelayMs: 30, latencyMs: 20 });
    const req = payRequest({ amountMinor: 100n });
    await pay(req);
    await control(`/__sim/trades/${req.outTradeNo}/pay`, {});
    const [event] = await waitFor(() => (events(req.outTradeNo).length ? events(req.outTradeNo) : undefined), 'notification');
    expect(event).toMatchObject({ amountMinor: 107n });
    expect(await query(req.outTradeNo)).toMatchObject({ amountMinor: 100n });
  });

  it('control endpoint refuses bad fault input', async () => {
    expect((await control('/__sim/faults', { declinePerMille: 5000 })).status).toBe(400);
    expect((await control('/__sim/faults', { nonsense: true })).status).toBe(400);
    expect((await control('/__sim/faults')).json).toMatchObject({ declinePerMille: 0 });
  });
});

