/**
 * A WeChat Pay APIv3 simulator (directly-connected merchant mode) on 127.0.0.1: Native and JSAPI
 * orders, query, close, refunds, notifications, trade bills and the platform certificate list,
 * speaking the published protocol closely enough that an adapter passing against it needs only
 * real credentials and URLs. It verifies merchant signatures, signs every answer and notification
 * with a real X.509 platform certificate, and applies the shared fault knobs per request.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createRandom, NO_FAULTS, updateFaults, type Faults } from '../common/faults.js';
import { Notifier } from '../common/notifier.js';
import type { RunningSimulator } from '../common/types.js';
import { registerBillRoutes } from './wechat-pay.bills.js';
import { toMerchantRecord, type MerchantRecord, type SimContext, type StoredBill } from './wechat-pay.context.js';
import { registerControlRoutes } from './wechat-pay.control.js';
import { generatePlatformIdentity, type PlatformIdentity, type WechatPayMerchant } from './wechat-pay.keys.js';
import { registerPaymentRoutes } from './wechat-pay.payments.js';
import { registerRefundRoutes } from './wechat-pay.refunds.js';
import { WechatPayState } from './wechat-pay.state.js';

export interface WechatPaySimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: '127.0.0.1';
  /** Seeds the fault draws, for reproducible runs. */
  seed?: number;
  merchants?: readonly WechatPayMerchant[];
  /** Reuse a platform identity (key generation takes a moment); generated when absent. */
  platform?: PlatformIdentity;
  /** The merchant fee rate in basis points, shown in bills (default 60 = 0.60%). */
  feeRateBps?: number;
  /** Time until a PROCESSING refund succeeds by itself (default 50 ms); negative: only /__sim settles refunds. */
  refundDelayMs?: number;
  /** Delays between notification retries (the Notifier's short default when absent). */
  notifyRetryScheduleMs?: readonly number[];
}

export interface WechatPaySimulator extends RunningSimulator {
  /** The platform certificate (PEM) an adapter config lists in platformCertificates. */
  platformCertificatePem: string;
  platformSerialNo: string;
  registerMerchant(m: WechatPayMerchant): void;
}

/** How long the timeout fault holds a request before dropping it (if the client has not given up first). */
const HOLD_MS = 30_000;

export async function startWechatPaySimulator(opts: WechatPaySimulatorOptions = {}): Promise<WechatPaySimulator> {
  const platform = opts.platform ?? (await generatePlatformIdentity());
  let faults: Faults = { ...NO_FAULTS };
  const rnd = createRandom(opts.seed);
  const newNotifier = () =>
    new Notifier({ faults: () => faults, acknowledged: (status) => status >= 200 && status < 300, ...(opts.notifyRetryScheduleMs ? { retryScheduleMs: opts.notifyRetryScheduleMs } : {}) });
  let notifier = newNotifier();
  const merchants = new Map<string, MerchantRecord>();
  for (const m of opts.merchants ?? []) merchants.set(m.mchid, toMerchantRecord(m));
  const state = new WechatPayState();
  const bills = new Map<string, StoredBill>();
  // Everything that could outlive close(): held requests, sleeps, refund timers.
  const releases = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  let baseUrl = '';

  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 1024 * 1024 });
  // Bodies stay raw text: the signature covers the exact bytes, and handlers parse JSON themselves.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const ctx: SimContext = {
    state,
    merchants,
    platform,
    faults: () => faults,
    rnd,
    notifier: () => notifier,
    feeRateBps: opts.feeRateBps ?? 60,
    refundDelayMs: opts.refundDelayMs ?? 50,
    bills,
    url: () => baseUrl,
    hold(req: FastifyRequest, reply: FastifyReply) {
      reply.hijack();
      const socket = req.raw.socket;
      return new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer);
          releases.delete(release);
          socket.destroy();
          resolve();
        };
        const timer = setTimeout(release, HOLD_MS);
        releases.add(release);
        socket.once('close', release);
      });
    },
    drop(req: FastifyRequest, reply: FastifyReply) {
      reply.hijack();
      req.raw.socket.destroy();
    },
    sleep(ms: number) {
      return new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer);
          releases.delete(release);
          resolve();
        };
        const timer = setTimeout(release, ms);
        releases.add(release);
      });
    },
    later(ms: number, fn: () => void) {
      if (closed) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    },
  };

  const applyFaults = (f: Faults) => {
    faults = f;
    // Notifications held back for reordering go out once reordering is switched off.
    if (!f.outOfOrderNotifications) notifier.flushHeld();
  };

  registerPaymentRoutes(app, ctx);
  registerRefundRoutes(app, ctx);
  registerBillRoutes(app, ctx);
  registerControlRoutes(app, ctx, {
    setFaults: (f) => applyFaults(f),
    reset: () => {
      state.reset();
      bills.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      notifier.stop();
      notifier = newNotifier();
      faults = { ...NO_FAULTS };
    },
  });

  await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    platformCertificatePem: platform.certificatePem,
    platformSerialNo: platform.serialNo,
    faults: () => ({ ...faults }),
    setFaults(patch: Partial<Faults>) {
      const r = updateFaults(faults, patch);
      if (!r.ok) throw new Error(r.message);
      applyFaults(r.faults);
    },
    registerMerchant(m: WechatPayMerchant) {
      merchants.set(m.mchid, toMerchantRecord(m));
    },
    async close() {
      closed = true;
      notifier.stop();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const release of [...releases]) release();
      await app.close();
    },
  };
}
