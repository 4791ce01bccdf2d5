/**
 * The /__sim control endpoints (not Alipay's protocol; JSON in and out): fault knobs, the payer's
 * actions (scan, pay or give up), the simulator's own view of a trade, the notification history,
 * and reset.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { updateFaults } from '../common/faults.js';
import type { SimCore } from './alipay.simulator.js';
import type { SimTrade } from './alipay.state.js';
import { tradeView } from './alipay.view.js';

export function registerControl(app: FastifyInstance, core: SimCore): void {
  const find = (req: FastifyRequest): SimTrade | undefined => core.state.findAny((req.params as { outTradeNo: string }).outTradeNo);

  app.get('/__sim/faults', async () => core.faults);
  app.post('/__sim/faults', async (req, reply) => {
    const r = updateFaults(core.faults, req.body);
    if (!r.ok) return reply.code(400).send({ error: r.message });
    core.faults = r.faults;
    return r.faults;
  });

  // The payer scans the code (or logs in on the cashier) and pays; {"result":"fail"} gives up,
  // which closes the trade. The cashier page posts the same as a form.
  app.post('/__sim/trades/:outTradeNo/pay', async (req, reply) => {
    const t = find(req);
    if (!t) return reply.code(404).send({ error: 'no such trade' });
    const body = typeof req.body === 'string' ? Object.fromEntries(new URLSearchParams(req.body)) : ((req.body ?? {}) as Record<string, unknown>);
    const result = body['result'] ?? 'success';
    if (result !== 'success' && result !== 'fail') return reply.code(400).send({ error: 'result must be "success" or "fail"' });
    const out = core.state.pay(t, result === 'success', new Date());
    if (out.error) return reply.code(409).send({ error: out.error, trade: tradeView(t) });
    core.announce(out.events);
    return tradeView(t);
  });

  // The payer scans but does not pay yet: Alipay now has a WAIT_BUYER_PAY trade.
  app.post('/__sim/trades/:outTradeNo/scan', async (req, reply) => {
    const t = find(req);
    if (!t) return reply.code(404).send({ error: 'no such trade' });
    const error = core.state.scan(t, new Date());
    if (error) return reply.code(409).send({ error, trade: tradeView(t) });
    return tradeView(t);
  });

  app.get('/__sim/trades/:outTradeNo', async (req, reply) => {
    const t = find(req);
    return t ? tradeView(t) : reply.code(404).send({ error: 'no such trade' });
  });

  app.get('/__sim/notifications', async () => core.notifier.attempts);
  app.post('/__sim/notifications/flush', async () => {
    core.notifier.flushHeld();
    return { flushed: true };
  });
  app.post('/__sim/reset', async () => {
    core.reset();
    return { reset: true };
  });
}
