/**
 * The UnionPay simulator's control endpoints (not UnionPay's protocol): fault knobs, the payer's
 * app paying a QR order, the simulator's view of an order, notifications, reset, the trust anchors
 * and merchant registration. JSON in and out.
 */
import type { FastifyInstance } from 'fastify';
import { updateFaults, type Faults } from '../common/faults.js';
import type { Notifier } from '../common/notifier.js';
import { tradeView, type HandlerContext } from './unionpay.handlers.js';
import type { UnionPayMerchant } from './unionpay.pki.js';

export interface ControlDeps {
  ctx: HandlerContext;
  notifier: Notifier;
  getFaults(): Faults;
  setFaults(f: Faults): void;
  /** Forget orders and notifications; reset faults. */
  reset(): void;
  trust: { rootCertPem: string; middleCertPem: string };
  registerMerchant(m: UnionPayMerchant): void;
}

export function registerUnionPayControl(app: FastifyInstance, d: ControlDeps): void {
  app.get('/__sim/faults', async () => d.getFaults());
  app.post('/__sim/faults', async (req, res) => {
    const r = updateFaults(d.getFaults(), req.body);
    if (!r.ok) return res.code(400).send({ error: r.message });
    d.setFaults(r.faults);
    return r.faults;
  });
  app.post<{ Params: { outTradeNo: string }; Body: { result?: unknown } | undefined }>('/__sim/trades/:outTradeNo/pay', async (req, res) => {
    const result = req.body?.result ?? 'success';
    if (result !== 'success' && result !== 'fail') return res.code(400).send({ error: 'result must be "success" or "fail"' });
    const c = d.ctx.store.consumeByOrderId(req.params.outTradeNo);
    if (!c) return res.code(404).send({ error: 'no such QR order' });
    if (!d.ctx.store.settlePayment(c, result === 'success', new Date())) return res.code(409).send({ error: `order is ${c.status}`, trade: tradeView(d.ctx, c) });
    // UnionPay sends back notifications for successful payments only.
    if (c.status === 'paid') d.ctx.notify(c);
    return tradeView(d.ctx, c);
  });
  app.get<{ Params: { outTradeNo: string } }>('/__sim/trades/:outTradeNo', async (req, res) => {
    const c = d.ctx.store.consumeByOrderId(req.params.outTradeNo);
    return c ? tradeView(d.ctx, c) : res.code(404).send({ error: 'no such QR order' });
  });
  app.get('/__sim/notifications', async () => d.notifier.attempts);
  app.post('/__sim/reset', async () => {
    d.reset();
    return { ok: true };
  });
  app.get('/__sim/trust', async () => d.trust);
  app.post<{ Body: Partial<UnionPayMerchant> | undefined }>('/__sim/merchants', async (req, res) => {
    const b = req.body ?? {};
    if (typeof b.merId !== 'string' || typeof b.certId !== 'string' || typeof b.publicKeyPem !== 'string') return res.code(400).send({ error: 'merId, certId and publicKeyPem are required' });
    try {
      d.registerMerchant({ merId: b.merId, certId: b.certId, publicKeyPem: b.publicKeyPem });
    } catch {
      return res.code(400).send({ error: 'publicKeyPem is not a public key' });
    }
    return { ok: true };
  });
}
