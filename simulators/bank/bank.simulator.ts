/**
 * The SimBank simulator (README.md in this directory): the bank channel's corporate payment API on
 * loopback, with every fault knob and the control endpoints under /__sim/.
 *
 * Order of checks per API request: latency, then the fault draw (maintenance answers a signed 503,
 * timeouts hold the connection, server errors answer an unsigned 500), then the merchant's
 * signature, then the business handler (which honours `decline`; `unknown_outcome` applies the
 * request and then answers an unsigned 500 or drops the connection).
 */
import type { KeyObject } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createRandom, decideFault, NO_FAULTS, updateFaults, type FaultDecision, type Faults } from '../common/faults.js';
import { Notifier } from '../common/notifier.js';
import type { RunningSimulator } from '../common/types.js';
import { asObject, fail, parseJson, type ApiAnswer, type BankContext } from './bank.context.js';
import { registerBankControl } from './bank.control.js';
import { createBankKey, publicKeyOf, signAnswer, verifyRequestSignature, type BankKey, type BankMerchant } from './bank.crypto.js';
import { createPayout, createRefund, queryPayout, queryRefund } from './bank.funds.js';
import { closePayment, confirmPayment, createPayment, queryPayment } from './bank.payments.js';
import { BankStore, chinaDate, chinaIso } from './bank.state.js';
import { statementCsv } from './bank.statement.js';

export interface BankSimulatorOptions {
  port?: number;
  host?: '127.0.0.1';
  seed?: number;
  merchants?: BankMerchant[];
  bankKey?: BankKey;
  /** How long an SMS code stays valid (default 5 minutes). */
  smsTtlMs?: number;
  /** Wrong codes allowed before the trade closes (default 3). */
  smsMaxAttempts?: number;
  /** How long a refund stays processing (default 30 ms). */
  refundDelayMs?: number;
  /** When a PROCESSING payout settles by itself (default 1000 ms; 0 = only via the control endpoint). */
  payoutSettleMs?: number;
}

export interface RunningBankSimulator extends RunningSimulator {
  bankKey: { keyId: string; publicKeyPem: string };
  registerMerchant(m: BankMerchant): void;
}

type Handler = (merchantId: string, body: Record<string, unknown>, params: Record<string, string>, decision: FaultDecision) => ApiAnswer | { csv: string };

const REPLAY_WINDOW_S = 300;
const NONCE_MEMORY_MS = 10 * 60_000;

/** The merchant's signature (README §2): the merchant id, or the 401 answer. Nonces are remembered per merchant. */
function authenticate(
  merchants: Map<string, { merchant: BankMerchant; key: KeyObject }>,
  nonces: Map<string, number>,
  req: FastifyRequest,
  raw: string,
): { ok: true; merchantId: string } | { ok: false; answer: ApiAnswer } {
  const h = (n: string) => (typeof req.headers[n] === 'string' ? (req.headers[n] as string) : '');
  const m = merchants.get(h('x-bank-merchant-id'));
  if (!m) return { ok: false, answer: fail(401, 'MERCHANT_UNKNOWN', 'unknown X-Bank-Merchant-Id') };
  const ts = h('x-bank-timestamp');
  const nonce = h('x-bank-nonce');
  if (h('x-bank-key-id') !== m.merchant.keyId || !/^[A-Za-z0-9]{16,64}$/.test(nonce)) return { ok: false, answer: fail(401, 'SIGN_ERROR', 'unknown key id or malformed nonce') };
  if (!verifyRequestSignature(m.key, req.method, req.url, ts, nonce, raw, h('x-bank-signature'))) return { ok: false, answer: fail(401, 'SIGN_ERROR', 'signature does not verify') };
  const now = Date.now();
  if (!/^\d{1,12}$/.test(ts) || Math.abs(now / 1000 - Number(ts)) > REPLAY_WINDOW_S) return { ok: false, answer: fail(401, 'TIMESTAMP_EXPIRED', 'X-Bank-Timestamp is outside the 300 s window') };
  const nonceKey = `${m.merchant.merchantId}|${nonce}`;
  if ((nonces.get(nonceKey) ?? 0) > now) return { ok: false, answer: fail(401, 'NONCE_REUSED', 'X-Bank-Nonce was used already') };
  nonces.set(nonceKey, now + NONCE_MEMORY_MS);
  if (nonces.size > 10_000) for (const [k, until] of nonces) if (until <= now) nonces.delete(k);
  return { ok: true, merchantId: m.merchant.merchantId };
}

/**
 * Starts SimBank. One closure owns the running server's mutable state (faults, timers, base URL,
 * nonces); the protocol work lives in bank.payments.ts, bank.funds.ts and bank.statement.ts.
 */
export async function startBankSimulator(opts: BankSimulatorOptions = {}): Promise<RunningBankSimulator> {
  const bankKey = opts.bankKey ?? (await createBankKey());
  const rnd = createRandom(opts.seed);
  let faults: Faults = { ...NO_FAULTS };
  let baseUrl = '';
  const store = new BankStore();
  const merchants = new Map<string, { merchant: BankMerchant; key: KeyObject }>();
  const registerMerchant = (m: BankMerchant) => merchants.set(m.merchantId, { merchant: m, key: publicKeyOf(m.publicKeyPem) });
  for (const m of opts.merchants ?? []) registerMerchant(m);
  const nonces = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const notifier = new Notifier({ faults: () => faults, acknowledged: (status, body) => status === 200 && /"code"\s*:\s*"SUCCESS"/.test(body) });
  let eventSeq = 0;

  const ctx: BankContext = {
    store,
    merchants,
    cashierUrl: () => `${baseUrl}/gateway/cashier`,
    smsTtlMs: opts.smsTtlMs ?? 5 * 60_000,
    smsMaxAttempts: opts.smsMaxAttempts ?? 3,
    refundDelayMs: opts.refundDelayMs ?? 30,
    payoutSettleMs: opts.payoutSettleMs ?? 1000,
    later(fn, delayMs) {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, delayMs);
      timers.add(t);
    },
    notify(url, eventType, data, key) {
      const shown = faults.notifyAmountDeltaMinor !== 0 && typeof data['amount'] === 'number' ? { ...data, amount: data['amount'] + faults.notifyAmountDeltaMinor } : data;
      const now = new Date();
      const body = JSON.stringify({ eventId: `EV${now.getTime()}${String(++eventSeq).padStart(6, '0')}`, eventType, createTime: chinaIso(now), data: shown });
      notifier.send({ url, headers: { 'content-type': 'application/json; charset=utf-8', ...signAnswer(bankKey, body, now) }, body, key });
    },
  };

  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 1024 * 1024 });
  // The signature covers the exact body text, so bodies are kept as strings and parsed here.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const send = (res: FastifyReply, a: ApiAnswer) => {
    const body = JSON.stringify({ code: a.code, message: a.message, ...(a.data ? { data: a.data } : {}) });
    return res.code(a.status).headers({ 'content-type': 'application/json; charset=utf-8', ...signAnswer(bankKey, body) }).send(body);
  };
  const unsigned500 = (res: FastifyReply) => res.code(500).header('content-type', 'application/json').send('{"code":"SYSTEM_ERROR","message":"system error"}');
  const hold = (req: FastifyRequest, res: FastifyReply) => {
    res.hijack();
    const socket = req.raw.socket;
    const t = setTimeout(() => socket.destroy(), 30_000);
    timers.add(t);
    socket.once('close', () => {
      clearTimeout(t);
      timers.delete(t);
    });
  };

  const api = (moneyMoving: boolean, handler: Handler) => async (req: FastifyRequest, res: FastifyReply) => {
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    const decision = decideFault(faults, rnd, moneyMoving);
    switch (decision) {
      case 'maintenance':
        return send(res, fail(503, 'SYSTEM_MAINTENANCE', 'the bank is in a maintenance window; nothing was processed'));
      case 'timeout':
        return hold(req, res);
      case 'server_error':
        return unsigned500(res);
      case 'decline':
      case 'normal':
      case 'unknown_outcome':
        break;
    }
    const raw = typeof req.body === 'string' ? req.body : '';
    const auth = authenticate(merchants, nonces, req, raw);
    if (!auth.ok) return send(res, auth.answer);
    const parsed = parseJson(raw);
    const body = parsed.ok ? (parsed.value === undefined ? {} : asObject(parsed.value)) : undefined;
    if (!body) return send(res, fail(400, 'PARAM_ERROR', 'the body must be a JSON object'));
    const answer = handler(auth.merchantId, body, req.params as Record<string, string>, decision);
    if (decision === 'unknown_outcome') {
      // Applied, but the caller never learns it.
      if (rnd() < 0.5) return unsigned500(res);
      res.hijack();
      req.raw.socket.destroy();
      return undefined;
    }
    if ('csv' in answer) return res.code(200).headers({ 'content-type': 'text/csv; charset=utf-8', ...signAnswer(bankKey, answer.csv) }).send(answer.csv);
    return send(res, answer);
  };

  app.post('/openapi/v1/payments', api(true, (m, b, _p, d) => createPayment(ctx, m, b, d)));
  app.post('/openapi/v1/payments/:outTradeNo/confirm', api(true, (m, b, p, d) => confirmPayment(ctx, m, p['outTradeNo']!, b, d)));
  app.get('/openapi/v1/payments/:outTradeNo', api(false, (m, _b, p) => queryPayment(ctx, m, p['outTradeNo']!)));
  app.post('/openapi/v1/payments/:outTradeNo/close', api(false, (m, _b, p) => closePayment(ctx, m, p['outTradeNo']!)));
  app.post('/openapi/v1/refunds', api(true, (m, b, _p, d) => createRefund(ctx, m, b, d)));
  app.get('/openapi/v1/refunds/:outRefundNo', api(false, (m, _b, p) => queryRefund(ctx, m, p['outRefundNo']!)));
  app.post('/openapi/v1/payouts', api(true, (m, b, _p, d) => createPayout(ctx, m, b, d)));
  app.get('/openapi/v1/payouts/:outPayoutNo', api(false, (m, _b, p) => queryPayout(ctx, m, p['outPayoutNo']!)));
  app.get(
    '/openapi/v1/statements/:date',
    api(false, (m, _b, p) => {
      const date = p['date'] ?? '';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) return fail(400, 'PARAM_ERROR', 'date must be YYYY-MM-DD');
      if (date > chinaDate(new Date())) return fail(404, 'STATEMENT_NOT_READY', 'the statement date has not begun');
      return { csv: statementCsv(store, m, date) };
    }),
  );

  const cashier = async (_req: FastifyRequest, res: FastifyReply) =>
    res.header('content-type', 'text/html; charset=utf-8').send('<!doctype html><html><body><h1>SimBank cashier</h1><p>The payer completes this payment through the simulator control endpoint.</p></body></html>');
  app.get('/gateway/cashier', cashier);
  app.post('/gateway/cashier', cashier);

  registerBankControl(app, {
    ctx,
    notifier,
    getFaults: () => faults,
    setFaults: (f) => {
      faults = f;
    },
    reset() {
      store.clear();
      nonces.clear();
      faults = { ...NO_FAULTS };
      notifier.attempts.splice(0);
    },
    bankKey: { keyId: bankKey.keyId, publicKeyPem: bankKey.publicKeyPem },
    registerMerchant,
  });

  const address = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  baseUrl = address.replace('localhost', '127.0.0.1');
  return {
    url: baseUrl,
    bankKey: { keyId: bankKey.keyId, publicKeyPem: bankKey.publicKeyPem },
    registerMerchant,
    faults: () => faults,
    setFaults(patch: Partial<Faults>) {
      const r = updateFaults(faults, patch);
      if (!r.ok) throw new Error(r.message);
      faults = r.faults;
    },
    async close() {
      notifier.stop();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await app.close();
    },
  };
}
