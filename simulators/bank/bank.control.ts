/**
 * SimBank's control endpoints (not the bank's protocol; README §9): fault knobs, the payer at the
 * gateway cashier, SMS codes, payout settlement, reset and merchant registration. JSON in and out.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { updateFaults, type Faults } from '../common/faults.js';
import type { Notifier } from '../common/notifier.js';
import { asObject, parseJson, type BankContext } from './bank.context.js';
import type { BankMerchant } from './bank.crypto.js';
import { settlePayout } from './bank.funds.js';
import { payAtCashier } from './bank.payments.js';
import { tradeData } from './bank.state.js';

export interface ControlDeps {
  ctx: BankContext;
  notifier: Notifier;
  getFaults(): Faults;
  setFaults(f: Faults): void;
  /** Forget trades, refunds, payouts, nonces and notifications; reset faults. */
  reset(): void;
  bankKey: { keyId: string; publicKeyPem: string };
  registerMerchant(m: BankMerchant): void;
}

export function registerBankControl(app: FastifyInstance, d: ControlDeps): void {
  const jsonOf = (req: FastifyRequest): Record<string, unknown> | undefined => {
    const p = parseJson(req.body);
    return p.ok ? (p.value === undefined ? {} : asObject(p.value)) : undefined;
  };
  app.get('/__sim/faults', async () => d.getFaults());
  app.post('/__sim/faults', async (req, res) => {
    const parsed = parseJson(req.body);
    const r = updateFaults(d.getFaults(), parsed.ok ? parsed.value : null);
    if (!r.ok) return res.code(400).send({ error: r.message });
    d.setFaults(r.faults);
    return r.faults;
  });
  app.get<{ Params: { outTradeNo: string } }>('/__sim/trades/:outTradeNo', async (req, res) => {
    const t = d.ctx.store.tradeByNo(req.params.outTradeNo);
    if (!t) return res.code(404).send({ error: 'no such trade' });
    const refunds = [...d.ctx.store.refunds.values()].filter((r) => r.merchantId === t.merchantId && r.outTradeNo === t.outTradeNo).map((r) => ({ outRefundNo: r.outRefundNo, amount: r.amountFen, status: r.status }));
    return { ...tradeData(t, d.ctx.cashierUrl()), refunds };
  });
  app.post<{ Params: { outTradeNo: string } }>('/__sim/trades/:outTradeNo/pay', async (req, res) => {
    const result = jsonOf(req)?.['result'] ?? 'success';
    if (result !== 'success' && result !== 'fail') return res.code(400).send({ error: 'result must be "success" or "fail"' });
    const t = d.ctx.store.tradeByNo(req.params.outTradeNo);
    if (!t) return res.code(404).send({ error: 'no such trade' });
    const r = payAtCashier(d.ctx, t, result === 'success');
    return r.ok ? tradeData(t, d.ctx.cashierUrl()) : res.code(r.status).send({ error: r.error });
  });
  app.get('/__sim/notifications', async () => d.notifier.attempts);
  app.post('/__sim/reset', async () => {
    d.reset();
    return { ok: true };
  });
  app.get<{ Params: { outTradeNo: string } }>('/__sim/sms/:outTradeNo', async (req, res) => {
    const t = d.ctx.store.tradeByNo(req.params.outTradeNo);
    if (!t?.sms) return res.code(404).send({ error: 'no SMS code is outstanding for this trade' });
    return { outTradeNo: t.outTradeNo, maskedPhone: t.maskedPhone, code: t.sms.code, expiresAt: t.sms.expiresAt.toISOString(), attemptsLeft: t.sms.attemptsLeft };
  });
  app.post<{ Params: { outTradeNo: string } }>('/__sim/sms/:outTradeNo/expire', async (req, res) => {
    const t = d.ctx.store.tradeByNo(req.params.outTradeNo);
    if (!t?.sms) return res.code(404).send({ error: 'no SMS code is outstanding for this trade' });
    t.sms.expiresAt = new Date(Date.now() - 1);
    return { ok: true };
  });
  app.get<{ Params: { outPayoutNo: string } }>('/__sim/payouts/:outPayoutNo', async (req, res) => {
    const p = d.ctx.store.payoutByNo(req.params.outPayoutNo);
    return p ? p : res.code(404).send({ error: 'no such payout' });
  });
  app.post<{ Params: { outPayoutNo: string } }>('/__sim/payouts/:outPayoutNo/settle', async (req, res) => {
    const result = jsonOf(req)?.['result'] ?? 'success';
    if (result !== 'success' && result !== 'fail') return res.code(400).send({ error: 'result must be "success" or "fail"' });
    const p = d.ctx.store.payoutByNo(req.params.outPayoutNo);
    if (!p) return res.code(404).send({ error: 'no such payout' });
    if (!settlePayout(d.ctx, p, result === 'success')) return res.code(409).send({ error: `the payout is ${p.status}` });
    return { status: p.status };
  });
  app.get('/__sim/bank-key', async () => d.bankKey);
  app.post('/__sim/merchants', async (req, res) => {
    const b = jsonOf(req);
    if (!b || typeof b['merchantId'] !== 'string' || typeof b['keyId'] !== 'string' || typeof b['publicKeyPem'] !== 'string' || !Array.isArray(b['agreements'])) {
      return res.code(400).send({ error: 'merchantId, keyId, publicKeyPem and agreements are required' });
    }
    try {
      d.registerMerchant(b as unknown as BankMerchant);
    } catch {
      return res.code(400).send({ error: 'publicKeyPem is not a public key' });
    }
    return { ok: true };
  });
}
