// Proves the SimBank simulator and bankAdapter agree end to end: gateway and SMS quick pay, collections, refunds, payouts, the daily statement with payouts, signatures both ways and every fault knob.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { businessNo, IdGenerator } from '../../src/kernel/ids.js';
import type { CallContext, ChannelEvent, HttpRequestSpec, HttpResponseData, PayRequest } from '../../src/modules/channels/adapter.js';
import {
  bankAdapter,
  buildCollection,
  buildPayout,
  buildPayoutQuery,
  parseBankStatement,
  parseCollection,
  parsePayout,
  parsePayoutQuery,
  verifyPayoutNotification,
  type BankConfig,
  type PayoutResult,
} from '../../src/modules/channels/adapters/bank/bank.adapter.js';
import { sendChannelRequest } from '../../src/modules/channels/http-exec.js';
import type { Faults } from '../common/faults.js';
import { signAnswer } from './bank.crypto.js';
import { createBankKey, createBankTestAccount, startBankSimulator, type BankKey, type RunningBankSimulator } from './index.js';

const ids = new IdGenerator({ workerId: 9 });
const no = (prefix = 'P') => businessNo(prefix, ids.next());
const cx = (): CallContext => ({ now: new Date(), nonce: randomBytes(12).toString('hex') });

let sim: RunningBankSimulator;
let bankKey: BankKey;
let cfg: BankConfig;
let activeAgreementNo: string;
let terminatedAgreementNo: string;
let notifyServer: Server;
let notifyBase: string;
type Received = { ok: true; event: ChannelEvent } | { ok: true; payout: PayoutResult } | { ok: false; code: string };
const received: Received[] = [];

async function send(spec: HttpRequestSpec): Promise<HttpResponseData> {
  const r = await sendChannelRequest(spec, { timeoutMs: 5000 });
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

function events(pred: (e: ChannelEvent) => boolean): ChannelEvent[] {
  return received.flatMap((r) => (r.ok && 'event' in r && pred(r.event) ? [r.event] : []));
}

const card = { cardNo: '6222021234567890018', holderName: '张三', idNumber: '11010519491231002X', phone: '13800138000' };

function payRequest(over: Partial<PayRequest> = {}): PayRequest {
  return {
    outTradeNo: no(),
    amountMinor: 10000n,
    currency: 'CNY',
    subject: 'Bank order',
    expiresAt: new Date(Date.now() + 3600_000),
    notifyUrl: `${notifyBase}/notify/bank`,
    returnUrl: 'http://127.0.0.1/return',
    method: 'bank_gateway',
    ...over,
  };
}

const pay = async (req: PayRequest) => bankAdapter.parsePay(cfg, req, await send(bankAdapter.buildPay(cfg, req, cx())), cx());
const query = async (outTradeNo: string) => bankAdapter.parseQuery(cfg, await send(bankAdapter.buildQuery(cfg, { outTradeNo }, cx())), cx());
const confirm = async (outTradeNo: string, smsCode: string) => bankAdapter.parseConfirm!(cfg, await send(bankAdapter.buildConfirm!(cfg, { outTradeNo, smsCode }, cx())), cx());
const smsOf = async (outTradeNo: string) => (await control(`/__sim/sms/${outTradeNo}`)).json.code as string;
const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

async function quickPaid(amountMinor = 10000n) {
  const req = payRequest({ method: 'bank_quick', amountMinor, bankCard: { agreementNo: activeAgreementNo } });
  expect(await pay(req)).toMatchObject({ kind: 'accepted', action: { type: 'sms_code' } });
  const r = await confirm(req.outTradeNo, await smsOf(req.outTradeNo));
  expect(r).toMatchObject({ kind: 'succeeded', amountMinor });
  return { req, channelTradeNo: r.kind === 'succeeded' ? r.channelTradeNo : '' };
}

beforeAll(async () => {
  notifyServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const isPayout = req.url === '/notify/payout';
      const r = isPayout ? verifyPayoutNotification(cfg, { headers, body }, cx()) : bankAdapter.verifyNotification(cfg, { headers, body }, cx());
      received.push(r.ok ? ('payout' in r ? { ok: true, payout: r.payout } : { ok: true, event: r.event }) : { ok: false, code: r.code });
      const answer = r.ok ? r.ack : r.nack;
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => notifyServer.listen(0, '127.0.0.1', resolve));
  notifyBase = `http://127.0.0.1:${(notifyServer.address() as AddressInfo).port}`;
  bankKey = await createBankKey();
  sim = await startBankSimulator({ seed: 7, bankKey, payoutSettleMs: 0 });
  const account = await createBankTestAccount({ baseUrl: sim.url, bankKey: sim.bankKey });
  sim.registerMerchant(account.merchant);
  activeAgreementNo = account.activeAgreementNo;
  terminatedAgreementNo = account.terminatedAgreementNo;
  const parsed = bankAdapter.parseConfig(account.config);
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

describe('bank gateway and quick pay', () => {
  it('gateway: redirect form, payer pays at the bank, signed notification acknowledged, query shows success', async () => {
    const req = payRequest({ amountMinor: 4321n });
    const r = await pay(req);
    expect(r).toMatchObject({ kind: 'accepted', action: { type: 'form_post', url: `${sim.url}/gateway/cashier` } });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending', amountMinor: 4321n });
    await control(`/__sim/trades/${req.outTradeNo}/pay`, { result: 'success' });
    const [event] = await waitFor('payment notification', () => (events((e) => e.outTradeNo === req.outTradeNo).length ? events((e) => e.outTradeNo === req.outTradeNo) : undefined));
    expect(event).toMatchObject({ type: 'payment', status: 'succeeded', amountMinor: 4321n });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 4321n, channelTradeNo: r.kind === 'accepted' ? r.channelTradeNo : '' });
    expect(((await control('/__sim/notifications')).json as Array<{ status: number }>).map((a) => a.status)).toEqual([200]);
  });

  it('quick pay with card elements: SMS code, right code pays synchronously', async () => {
    const req = payRequest({ method: 'bank_quick', amountMinor: 888n, bankCard: card });
    expect(await pay(req)).toMatchObject({ kind: 'accepted', action: { type: 'sms_code' } });
    const r = await confirm(req.outTradeNo, await smsOf(req.outTradeNo));
    expect(r).toMatchObject({ kind: 'succeeded', amountMinor: 888n, currency: 'CNY' });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 888n });
    await waitFor('payment notification', () => (events((e) => e.outTradeNo === req.outTradeNo).length ? true : undefined));
  });

  it('quick pay: a wrong code may be retried, and the third wrong code closes the trade', async () => {
    const req = payRequest({ method: 'bank_quick', bankCard: { agreementNo: activeAgreementNo } });
    await pay(req);
    const code = await smsOf(req.outTradeNo);
    // A wrong code with attempts left is retryable: the trade still waits for the right one.
    expect(await confirm(req.outTradeNo, wrong(code))).toMatchObject({ kind: 'declined', code: 'SMS_CODE_INVALID', retryable: true });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending' });
    expect(await confirm(req.outTradeNo, wrong(code))).toMatchObject({ kind: 'declined', code: 'SMS_CODE_INVALID', retryable: true });
    expect(await confirm(req.outTradeNo, wrong(code))).toMatchObject({ kind: 'declined', code: 'SMS_CODE_ATTEMPTS_EXCEEDED', retryable: false });
    expect(await confirm(req.outTradeNo, code)).toMatchObject({ kind: 'declined', code: 'SMS_ATTEMPTS_EXCEEDED', retryable: false });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'closed' });
  });

  it('quick pay: an expired code closes the trade', async () => {
    const req = payRequest({ method: 'bank_quick', bankCard: card });
    await pay(req);
    const code = await smsOf(req.outTradeNo);
    await control(`/__sim/sms/${req.outTradeNo}/expire`, {});
    expect(await confirm(req.outTradeNo, code)).toMatchObject({ kind: 'declined', code: 'SMS_CODE_EXPIRED', retryable: false });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'closed' });
  });

  it('quick pay: mismatched card elements and an empty card are declined', async () => {
    expect(await pay(payRequest({ method: 'bank_quick', bankCard: { ...card, cardNo: '6222021234567890002' } }))).toMatchObject({ kind: 'declined', code: 'CARD_INFO_MISMATCH' });
    const poor = payRequest({ method: 'bank_quick', bankCard: { ...card, cardNo: '6222021234567890051' } });
    await pay(poor);
    expect(await confirm(poor.outTradeNo, await smsOf(poor.outTradeNo))).toMatchObject({ kind: 'declined', code: 'INSUFFICIENT_FUNDS', retryable: false });
    expect(await query(poor.outTradeNo)).toMatchObject({ kind: 'found', status: 'failed' });
    expect(await pay(payRequest({ method: 'bank_quick', bankCard: { agreementNo: terminatedAgreementNo } }))).toMatchObject({ kind: 'declined', code: 'AGREEMENT_INVALID' });
  });

  it('resends the same order idempotently, refuses the same number with other content, and lets an unpaid trade expire', async () => {
    const req = payRequest({ amountMinor: 700n });
    const first = await pay(req);
    expect(first).toMatchObject({ kind: 'accepted' });
    expect(await pay(req)).toEqual(first);
    expect(await pay({ ...req, amountMinor: 701n })).toMatchObject({ kind: 'unknown' });
    // expireTime travels with whole seconds, so leave more than one second.
    const lapsing = payRequest({ expiresAt: new Date(Date.now() + 1500) });
    expect(await pay(lapsing)).toMatchObject({ kind: 'accepted' });
    await waitFor('expiry', async () => {
      const q = await query(lapsing.outTradeNo);
      return q.kind === 'found' && q.status === 'closed' ? true : undefined;
    });
    expect((await control(`/__sim/trades/${lapsing.outTradeNo}/pay`, {})).status).toBe(409);
  });

  it('closes an unpaid trade, reports already_paid for a paid one, and bars a closed number', async () => {
    const close = async (outTradeNo: string) => bankAdapter.parseClose(cfg, await send(bankAdapter.buildClose(cfg, { outTradeNo }, cx())), cx());
    const open = payRequest();
    await pay(open);
    expect(await close(open.outTradeNo)).toEqual({ kind: 'closed' });
    expect(await query(open.outTradeNo)).toMatchObject({ kind: 'found', status: 'closed' });
    expect((await control(`/__sim/trades/${open.outTradeNo}/pay`, {})).status).toBe(409);
    const { req } = await quickPaid();
    expect(await close(req.outTradeNo)).toEqual({ kind: 'already_paid' });
    const never = payRequest();
    expect(await query(never.outTradeNo)).toEqual({ kind: 'not_found' });
    expect(await close(never.outTradeNo)).toEqual({ kind: 'closed' });
    expect(await pay(never)).toMatchObject({ kind: 'declined', code: 'ORDER_CLOSED' });
  });
});

describe('bank refunds, collections and payouts', () => {
  it('refunds in parts up to the paid amount and refuses more; refund query and notification', async () => {
    const { req, channelTradeNo } = await quickPaid(10000n);
    const refund = async (outRefundNo: string, refundMinor: bigint) => {
      const r = { outTradeNo: req.outTradeNo, channelTradeNo, outRefundNo, refundMinor, totalMinor: 10000n, currency: 'CNY', notifyUrl: `${notifyBase}/notify/bank` };
      return bankAdapter.parseRefund(cfg, await send(bankAdapter.buildRefund(cfg, r, cx())), cx());
    };
    const r1 = no('R');
    const first = await refund(r1, 6000n);
    expect(first).toMatchObject({ kind: 'accepted', status: 'processing' });
    expect(await refund(r1, 6000n)).toMatchObject({ kind: 'accepted', channelRefundNo: first.kind === 'accepted' ? first.channelRefundNo : '' });
    expect(await refund(no('R'), 4001n)).toMatchObject({ kind: 'declined', code: 'REFUND_AMOUNT_EXCEEDED' });
    expect(await refund(no('R'), 4000n)).toMatchObject({ kind: 'accepted' });
    await waitFor('refund notification', () => (events((e) => e.type === 'refund' && e.outRefundNo === r1).length ? true : undefined));
    expect(events((e) => e.type === 'refund' && e.outRefundNo === r1)[0]).toMatchObject({ outTradeNo: req.outTradeNo, status: 'succeeded', refundMinor: 6000n });
    const rq = bankAdapter.parseRefundQuery(cfg, await send(bankAdapter.buildRefundQuery(cfg, { outTradeNo: req.outTradeNo, outRefundNo: r1 }, cx())), cx());
    expect(rq).toMatchObject({ kind: 'found', status: 'succeeded', refundMinor: 6000n });
    await waitFor('full refund', async () => {
      const q = await query(req.outTradeNo);
      return q.kind === 'found' && q.status === 'refunded' ? true : undefined;
    });
    const missing = bankAdapter.parseRefundQuery(cfg, await send(bankAdapter.buildRefundQuery(cfg, { outTradeNo: req.outTradeNo, outRefundNo: no('R') }, cx())), cx());
    expect(missing).toEqual({ kind: 'not_found' });
  });

  it('collects under an active agreement without SMS, and refuses a terminated one or an empty account', async () => {
    const collect = async (agreementNo: string, amountMinor: bigint) => {
      const req = { outTradeNo: no(), amountMinor, currency: 'CNY', subject: 'installment', agreementNo, expiresAt: new Date(Date.now() + 600_000), notifyUrl: `${notifyBase}/notify/bank` };
      return { req, r: parseCollection(cfg, req, await send(buildCollection(cfg, req, cx())), cx()) };
    };
    const good = await collect(activeAgreementNo, 20000n);
    expect(good.r).toMatchObject({ kind: 'succeeded', amountMinor: 20000n });
    expect(await query(good.req.outTradeNo)).toMatchObject({ kind: 'found', status: 'succeeded' });
    expect((await collect(terminatedAgreementNo, 100n)).r).toMatchObject({ kind: 'declined', code: 'AGREEMENT_INVALID' });
    const poor = await collect(activeAgreementNo, 6_000_000n);
    expect(poor.r).toMatchObject({ kind: 'declined', code: 'INSUFFICIENT_FUNDS' });
    expect(await query(poor.req.outTradeNo)).toMatchObject({ kind: 'found', status: 'failed' });
  });

  it('pays out: success, proven failures, and processing settled later (query and notification)', async () => {
    const payout = async (accountNo: string, amountMinor = 50000n) => {
      const req = { outPayoutNo: no('O'), amountMinor, currency: 'CNY', accountNo, accountName: '李四', bankCode: 'ICBC', notifyUrl: `${notifyBase}/notify/payout` };
      return { req, r: parsePayout(cfg, await send(buildPayout(cfg, req, cx())), cx()) };
    };
    const payoutQuery = async (outPayoutNo: string) => parsePayoutQuery(cfg, await send(buildPayoutQuery(cfg, { outPayoutNo }, cx())), cx());
    expect((await payout('6222020200112233')).r).toMatchObject({ kind: 'succeeded', amountMinor: 50000n, feeMinor: 100n });
    expect((await payout('6222020200114001')).r).toMatchObject({ kind: 'failed', code: 'ACCOUNT_NAME_MISMATCH' });
    expect((await payout('6222020200114002')).r).toMatchObject({ kind: 'failed', code: 'ACCOUNT_CLOSED' });
    const slow = await payout('6222020200114003');
    expect(slow.r).toMatchObject({ kind: 'processing' });
    expect(await payoutQuery(slow.req.outPayoutNo)).toMatchObject({ kind: 'processing' });
    await control(`/__sim/payouts/${slow.req.outPayoutNo}/settle`, { result: 'success' });
    expect(await payoutQuery(slow.req.outPayoutNo)).toMatchObject({ kind: 'succeeded', amountMinor: 50000n });
    const bounced = await payout('6222020200124003');
    await control(`/__sim/payouts/${bounced.req.outPayoutNo}/settle`, { result: 'fail' });
    expect(await payoutQuery(bounced.req.outPayoutNo)).toMatchObject({ kind: 'failed', code: 'ACCOUNT_FROZEN' });
    expect(await payoutQuery(no('O'))).toEqual({ kind: 'not_found' });
    const notified = await waitFor('payout notifications', () => {
      const p = received.flatMap((r) => (r.ok && 'payout' in r ? [r.payout] : []));
      return p.length >= 5 ? p : undefined;
    });
    expect(notified.map((p) => p.kind).sort()).toEqual(['failed', 'failed', 'failed', 'succeeded', 'succeeded']);
  });

  it('downloads the daily statement in one hop: contract lines and totals, and the full file with payouts', async () => {
    const { req } = await quickPaid(10000n);
    const q = await query(req.outTradeNo);
    const date = new Date((q.kind === 'found' ? q.paidAt!.getTime() : Date.now()) + 8 * 3600_000).toISOString().slice(0, 10);
    const col = { outTradeNo: no(), amountMinor: 20000n, currency: 'CNY', subject: 'installment', agreementNo: activeAgreementNo, expiresAt: new Date(Date.now() + 600_000), notifyUrl: `${notifyBase}/notify/bank` };
    await send(buildCollection(cfg, col, cx()));
    const outRefundNo = no('R');
    await send(bankAdapter.buildRefund(cfg, { outTradeNo: req.outTradeNo, outRefundNo, refundMinor: 3000n, totalMinor: 10000n, currency: 'CNY' }, cx()));
    await send(buildPayout(cfg, { outPayoutNo: no('O'), amountMinor: 50000n, currency: 'CNY', accountNo: '6222020200112233', accountName: '李四', bankCode: 'ICBC' }, cx()));
    await waitFor('refund success', async () => ((await control(`/__sim/trades/${req.outTradeNo}`)).json.refunds[0]?.status === 'SUCCESS' ? true : undefined));

    const res = await send(bankAdapter.buildStatement(cfg, { date }, cx()));
    const lines = bankAdapter.parseStatement(cfg, res, cx());
    if (lines.kind !== 'lines') throw new Error(JSON.stringify(lines));
    expect(lines.totals).toEqual({ count: 3, amountMinor: 27000n, feeMinor: 90n });
    expect(lines.lines.find((l) => l.kind === 'refund')).toMatchObject({ outTradeNo: req.outTradeNo, outRefundNo, amountMinor: 3000n });
    const full = parseBankStatement(cfg, res, cx());
    if (full.kind !== 'statement') throw new Error(JSON.stringify(full));
    expect(full.statement.summary.PAYOUT).toEqual({ count: 1, amountMinor: 50000n, feeMinor: 100n });
    expect(full.statement.summary.NET).toEqual({ count: 4, amountMinor: -23000n, feeMinor: 190n });
    // An altered file fails its signature.
    expect(bankAdapter.parseStatement(cfg, { ...res, body: res.body.replace('50000', '5000') }, cx())).toMatchObject({ kind: 'unknown' });
    const future = new Date(Date.now() + 3 * 24 * 3600_000).toISOString().slice(0, 10);
    expect(bankAdapter.parseStatement(cfg, await send(bankAdapter.buildStatement(cfg, { date: future }, cx())), cx())).toEqual({ kind: 'not_ready' });
  });
});

describe('bank signatures', () => {
  it('refuses a tampered or replayed request and creates nothing', async () => {
    const req = payRequest({ amountMinor: 500n });
    const spec = bankAdapter.buildPay(cfg, req, cx());
    const tampered = { ...spec, body: spec.body!.replace('"amount":500', '"amount":5') };
    expect(bankAdapter.parsePay(cfg, req, await send(tampered), cx())).toMatchObject({ kind: 'declined', code: 'SIGN_ERROR' });
    expect(await query(req.outTradeNo)).toEqual({ kind: 'not_found' });
    expect(bankAdapter.parsePay(cfg, req, await send(spec), cx())).toMatchObject({ kind: 'accepted' });
    expect(bankAdapter.parsePay(cfg, req, await send(spec), cx())).toMatchObject({ kind: 'declined', code: 'NONCE_REUSED' });
  });

  it('rejects altered, foreign-signed and stale notifications', async () => {
    const body = JSON.stringify({ eventId: 'EV1', eventType: 'PAYMENT.SUCCEEDED', createTime: '2026-01-01T00:00:00+08:00', data: { outTradeNo: 'P1', tradeNo: 'B1', status: 'SUCCESS', amount: 100, currency: 'CNY' } });
    const genuine = signAnswer(bankKey, body);
    expect(bankAdapter.verifyNotification(cfg, { headers: genuine, body }, cx())).toMatchObject({ ok: true });
    expect(bankAdapter.verifyNotification(cfg, { headers: genuine, body: body.replace('"amount":100', '"amount":999') }, cx())).toMatchObject({ ok: false, code: 'bad_signature' });
    const rogue = await createBankKey(bankKey.keyId);
    expect(bankAdapter.verifyNotification(cfg, { headers: signAnswer(rogue, body), body }, cx())).toMatchObject({ ok: false, code: 'bad_signature' });
    const old = signAnswer(bankKey, body, new Date(Date.now() - 3600_000));
    const stale = bankAdapter.verifyNotification(cfg, { headers: old, body }, cx());
    expect(stale).toMatchObject({ ok: false, code: 'stale' });
    if (!stale.ok) expect(stale.nack.status).not.toBe(200);
  });
});

describe('bank fault knobs', () => {
  it('decline: the bank refuses with proof (422) and nothing is created', async () => {
    await setFaults({ declinePerMille: 1000 });
    const req = payRequest({ method: 'bank_quick', bankCard: card });
    expect(await pay(req)).toMatchObject({ kind: 'declined', code: 'CARD_DECLINED', retryable: true });
    expect(await query(req.outTradeNo)).toEqual({ kind: 'not_found' });
  });

  it('5xx: an unsigned 500 is unknown', async () => {
    await setFaults({ serverErrorPerMille: 1000 });
    expect(await pay(payRequest())).toMatchObject({ kind: 'unknown' });
  });

  it('timeout: no answer is reported lost', async () => {
    await setFaults({ timeoutPerMille: 1000 });
    expect(await sendChannelRequest(bankAdapter.buildPay(cfg, payRequest(), cx()), { timeoutMs: 300 })).toMatchObject({ ok: false, lost: true });
  });

  it('unknown outcome: the trade exists although the answer was lost or 5xx', async () => {
    await setFaults({ unknownOutcomePerMille: 1000 });
    const req = payRequest({ amountMinor: 321n });
    const r = await sendChannelRequest(bankAdapter.buildPay(cfg, req, cx()), { timeoutMs: 2000 });
    if (r.ok) expect(bankAdapter.parsePay(cfg, req, r.response, cx())).toMatchObject({ kind: 'unknown' });
    else expect(r.lost).toBe(true);
    await setFaults({ unknownOutcomePerMille: 0 });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', status: 'pending', amountMinor: 321n });
  });

  it('maintenance: pay is declined as retryable, queries are unknown, and a pending SMS confirmation survives it', async () => {
    const quick = payRequest({ method: 'bank_quick', bankCard: card });
    await pay(quick);
    const code = await smsOf(quick.outTradeNo);
    await setFaults({ maintenance: true });
    expect(await pay(payRequest())).toMatchObject({ kind: 'declined', code: 'SYSTEM_MAINTENANCE', retryable: true });
    expect(await query(no())).toMatchObject({ kind: 'unknown' });
    expect(await confirm(quick.outTradeNo, code)).toMatchObject({ kind: 'declined', code: 'SYSTEM_MAINTENANCE', retryable: true });
    await setFaults({ maintenance: false });
    expect(await confirm(quick.outTradeNo, code)).toMatchObject({ kind: 'succeeded' });
  });

  it('duplicate notifications arrive twice', async () => {
    await setFaults({ duplicateNotifications: true });
    const { req } = await quickPaid();
    await waitFor('second delivery', () => (events((e) => e.outTradeNo === req.outTradeNo).length >= 2 ? true : undefined));
    expect(events((e) => e.outTradeNo === req.outTradeNo)).toHaveLength(2);
  });

  it('out-of-order notifications arrive newest first', async () => {
    await setFaults({ outOfOrderNotifications: true });
    const first = await quickPaid();
    const second = await quickPaid();
    await waitFor('both notifications', () => (events(() => true).length >= 2 ? true : undefined));
    expect(events(() => true).map((e) => e.outTradeNo)).toEqual([second.req.outTradeNo, first.req.outTradeNo]);
  });

  it('wrong-amount notifications do not match the trade', async () => {
    await setFaults({ notifyAmountDeltaMinor: 1 });
    const { req } = await quickPaid(1000n);
    const [event] = await waitFor('notification', () => (events((e) => e.outTradeNo === req.outTradeNo).length ? events((e) => e.outTradeNo === req.outTradeNo) : undefined));
    expect(event).toMatchObject({ amountMinor: 1001n });
    expect(await query(req.outTradeNo)).toMatchObject({ kind: 'found', amountMinor: 1000n });
  });
});
