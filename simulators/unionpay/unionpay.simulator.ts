/**
 * A UnionPay online-payment (全渠道 ACP 5.1.0) simulator for QR payments, listening on loopback.
 *
 * Protocol paths, as in production (gateway.95516.com and filedownload.95516.com share one host
 * here):
 *   POST /gateway/api/backTransReq.do   apply for a QR code (01/07), refund (04), cancel (31)
 *   POST /gateway/api/queryTrans.do     transaction query (00)
 *   POST /                              file transfer (76): the daily reconciliation file
 * Requests are form-encoded and must be signed (signMethod 01) with the merchant key registered for
 * the request's certId; answers are raw key=value text signed by the simulator's UnionPay key with
 * its certificate in `signPubKeyCert`. Back notifications are posted form-encoded and signed the same
 * way; any HTTP 200 (or 302) acknowledges them.
 *
 * Control endpoints (not UnionPay's): see the common simulator contract, plus
 * `GET /__sim/trust` (root and middle certificates) and `POST /__sim/merchants` (register one).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createRandom, decideFault, NO_FAULTS, updateFaults, type FaultDecision, type Faults } from '../common/faults.js';
import { Notifier } from '../common/notifier.js';
import type { RunningSimulator } from '../common/types.js';
import { registerUnionPayControl } from './unionpay.control.js';
import { applyQrCode, authenticate, fileTransfer, query, refundOrCancel, reply, txnFields, type Answer, type HandlerContext } from './unionpay.handlers.js';
import { createUnionPayPlatform, type UnionPayMerchant, type UnionPayPlatform } from './unionpay.pki.js';
import { parseForm, rawAnswer, signWith, type Fields } from './unionpay.protocol.js';
import { UnionPayStore, type Txn } from './unionpay.state.js';

export interface UnionPaySimulatorOptions {
  port?: number;
  host?: '127.0.0.1';
  seed?: number;
  merchants?: UnionPayMerchant[];
  /** Reuse a certificate chain (e.g. one whose root an adapter config already trusts). */
  platform?: UnionPayPlatform;
  /** How long a refund stays processing before it succeeds (default 30 ms). */
  refundDelayMs?: number;
}

export interface RunningUnionPaySimulator extends RunningSimulator {
  /** What adapter configs must trust (acp_prod_root.cer / acp_prod_middle.cer equivalents). */
  trust: { rootCertPem: string; middleCertPem: string };
  registerMerchant(m: UnionPayMerchant): void;
}

type Route = 'back' | 'query' | 'file';

/**
 * Starts the simulator. One closure owns the running server's mutable state (faults, timers); the
 * protocol work lives in unionpay.handlers.ts and unionpay.statement.ts.
 */
export async function startUnionPaySimulator(opts: UnionPaySimulatorOptions = {}): Promise<RunningUnionPaySimulator> {
  const platform = opts.platform ?? (await createUnionPayPlatform());
  const rnd = createRandom(opts.seed);
  let faults: Faults = { ...NO_FAULTS };
  const store = new UnionPayStore();
  const merchants = new Map<string, { merchant: UnionPayMerchant; key: KeyObject }>();
  const registerMerchant = (m: UnionPayMerchant) => merchants.set(m.merId, { merchant: m, key: createPublicKey(m.publicKeyPem) });
  for (const m of opts.merchants ?? []) registerMerchant(m);
  const timers = new Set<NodeJS.Timeout>();
  const notifier = new Notifier({ faults: () => faults, acknowledged: (status) => status === 200 || status === 302 });

  const sign = (fields: Fields): Fields => {
    const f: Fields = { ...fields, signMethod: '01', signPubKeyCert: platform.signCertPem };
    return { ...f, signature: signWith(f, platform.signKey) };
  };

  const ctx: HandlerContext = {
    store,
    merchants,
    refundDelayMs: opts.refundDelayMs ?? 30,
    later(fn, delayMs) {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, delayMs);
      timers.add(t);
    },
    notify(t: Txn) {
      const fields: Fields = { version: '5.1.0', encoding: 'UTF-8', bizType: '000000', accessType: '0', merId: t.merId, ...txnFields(ctx, t), respCode: '00', respMsg: '成功[0000000]' };
      if (faults.notifyAmountDeltaMinor !== 0) {
        // A broken notice: the amount no longer matches the order (still validly signed).
        fields['txnAmt'] = String(t.amountFen + faults.notifyAmountDeltaMinor);
        if (fields['settleAmt']) fields['settleAmt'] = fields['txnAmt'];
      }
      notifier.send({
        url: t.backUrl,
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: new URLSearchParams(sign(fields)).toString(),
        key: `${t.orderId}:${fields['txnType']}`,
      });
    },
  };

  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 1024 * 1024 });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const sendAnswer = (res: FastifyReply, a: Answer) => res.code(200).header('content-type', 'text/plain;charset=UTF-8').send(rawAnswer(sign(a.fields)));

  /** Holds the request open until the client gives up (or 30 s), then drops the connection. */
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

  const handle = (route: Route, f: Fields, decision: FaultDecision): Answer => {
    const refused = authenticate(ctx, f);
    if (refused) return refused;
    switch (route) {
      case 'back':
        if (f['txnType'] === '01' && f['txnSubType'] === '07' && f['bizType'] === '000000') return applyQrCode(ctx, f, decision);
        if ((f['txnType'] === '04' || f['txnType'] === '31') && f['bizType'] === '000000') return refundOrCancel(ctx, f, decision);
        return reply(f, '32', '无此交易权限: only QR consume (01/07), refund (04) and cancel (31) are simulated');
      case 'query':
        return f['txnType'] === '00' ? query(ctx, f) : reply(f, '10', '报文格式错误: txnType 00 expected');
      case 'file':
        return f['txnType'] === '76' ? fileTransfer(ctx, f) : reply(f, '10', '报文格式错误: txnType 76 expected');
    }
  };

  const protocol = (route: Route) => async (req: FastifyRequest, res: FastifyReply) => {
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    const f = parseForm(typeof req.body === 'string' ? req.body : '');
    const decision = decideFault(faults, rnd, route === 'back');
    switch (decision) {
      case 'maintenance':
        return sendAnswer(res, reply(f, '02', '系统未开放或暂时关闭，请稍后再试'));
      case 'timeout':
        return hold(req, res);
      case 'server_error':
        return res.code(500).header('content-type', 'text/html').send('<html><body>500 Internal Server Error</body></html>');
      case 'decline':
      case 'normal':
        return sendAnswer(res, handle(route, f, decision));
      case 'unknown_outcome': {
        // The work is done (if the request was valid); the caller just never learns it.
        handle(route, f, decision);
        if (rnd() < 0.5) return res.code(500).header('content-type', 'text/html').send('<html><body>502 Bad Gateway</body></html>');
        res.hijack();
        req.raw.socket.destroy();
        return undefined;
      }
    }
  };

  app.post('/gateway/api/backTransReq.do', protocol('back'));
  app.post('/gateway/api/queryTrans.do', protocol('query'));
  app.post('/', protocol('file'));

  registerUnionPayControl(app, {
    ctx,
    notifier,
    getFaults: () => faults,
    setFaults: (f) => {
      faults = f;
    },
    reset() {
      store.clear();
      faults = { ...NO_FAULTS };
      notifier.attempts.splice(0);
    },
    trust: { rootCertPem: platform.rootCertPem, middleCertPem: platform.middleCertPem },
    registerMerchant,
  });

  const address = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  return {
    url: address.replace('localhost', '127.0.0.1'),
    trust: { rootCertPem: platform.rootCertPem, middleCertPem: platform.middleCertPem },
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
