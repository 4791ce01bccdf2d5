/**
 * The payments module's public surface (DESIGN.md §4): merchant payment orders, paying them through
 * routed channels or by combined payments, channel notifications, refunds, merchant notifications,
 * and the background jobs that resolve every outcome we could not see.
 */
import { fail, ok } from '../../kernel/errors.js';
import type { Secret } from '../../kernel/secret.js';
import type { PayAction, PayMethod } from '../channels/index.js';
import { payCombined, driveCombined } from './combined.js';
import { legSpecsOf, type LegSpec } from './pay-request.js';
import { passChallenge, recoverReviews, resolveReview, screen, type HeldRequest } from './risk-gate.js';
import { makeCtx, type Ctx, type PaymentsDeps, type PaymentsResult } from './context.js';
import { receiveChannelNotification } from './notify-in.js';
import { createOrder, findMerchantOrder, getOrder, orderView, type CreateOrderInput } from './orders.js';
import { deliverDueNotifications } from './outbox.js';
import { closeOrder, confirmSms, payWithChannel, queryLeg, type ChannelPayInput } from './pay.js';
import * as store from './payments.store.js';
import { driveRefund, refundOrder, refundView, type RefundInput } from './refunds.js';
import { combinedInFlight, isCombinedLeg } from './settle.js';
import type { MerchantNotification, PaymentLeg, PaymentOrder, PaymentRefund, RefundPart } from './types.js';

export type { PaymentsDeps, PaymentsResult } from './context.js';
export type { PaymentsErrorCode } from './errors.js';
export type { LegSpec } from './pay-request.js';
export { heldRequest, type HeldRequest, type PaymentRiskPort } from './risk-gate.js';
export type { MerchantNotification, PaymentLeg, PaymentOrder, PaymentRefund, RefundPart } from './types.js';
export { ORDER_METHODS, orderView } from './orders.js';
export { refundView, allocateRefund } from './refunds.js';
export { notificationBody } from './outbox.js';

/**
 * A combined payment untouched this long is driven on by the recovery job (a crash may have
 * stopped it between two steps). Driving a healthy one is harmless: every step is idempotent.
 */
const STALL_MS = 10_000;
/** An expired order the job could not settle yet (its channel cannot say) is looked at again this much later. */
const RECHECK_MS = 60_000;

export class Payments {
  private readonly ctx: Ctx;
  private timers: NodeJS.Timeout[] = [];

  constructor(deps: PaymentsDeps) {
    this.ctx = makeCtx(deps);
  }

  // ---- risk control at the cashier (risk-gate.ts) ----------------------------------------------
  /** Asks the risk engine about a pay request; see risk-gate.ts for what each answer does. */
  screen(inp: Parameters<typeof screen>[1]) {
    return screen(this.ctx, inp);
  }
  /** The payer's step-up code; the held request is carried out when it is right. */
  passChallenge(inp: { orderId: bigint; challengeId: bigint; code: string }) {
    return passChallenge(this.ctx, inp, this.runHeld);
  }
  /** An operator decided the risk case of a held payment (registered with the risk engine). */
  resolveReview(caseId: bigint, approved: boolean) {
    return resolveReview(this.ctx, caseId, approved, this.runHeld);
  }
  private readonly runHeld = async (orderId: bigint, req: HeldRequest): Promise<PaymentsResult<{ order: PaymentOrder; action: PayAction | null }>> => {
    if (req.legs) {
      const r = await payCombined(this.ctx, { orderId, legs: legSpecsOf(req) });
      return r.ok ? ok({ order: r.value.order, action: r.value.action }) : r;
    }
    const r = await payWithChannel(this.ctx, { orderId, method: req.method as PayMethod, ...(req.payer_open_id ? { payerOpenId: req.payer_open_id } : {}), ...(req.client_ip ? { clientIp: req.client_ip } : {}) });
    return r.ok ? ok({ order: r.value.order, action: r.value.action }) : r;
  };

  // ---- orders -----------------------------------------------------------------------------------
  createOrder(inp: CreateOrderInput): Promise<PaymentsResult<{ order: PaymentOrder; created: boolean }>> {
    return createOrder(this.ctx, inp);
  }
  getOrder(id: bigint): Promise<PaymentsResult<PaymentOrder>> {
    return getOrder(this.ctx, id);
  }
  async getOrderByNo(orderNo: string): Promise<PaymentsResult<PaymentOrder>> {
    const o = await store.getOrderByNo(this.ctx.pool, orderNo);
    return o ? ok(o) : fail('order_not_found', `no order ${orderNo}`);
  }
  findMerchantOrder(merchantId: bigint, ref: { orderNo?: string; merchantOrderNo?: string }): Promise<PaymentsResult<PaymentOrder>> {
    return findMerchantOrder(this.ctx, merchantId, ref);
  }
  listOrders(f: { merchantId?: bigint; status?: PaymentOrder['status']; afterId?: bigint; limit: number }): Promise<PaymentOrder[]> {
    return store.listOrders(this.ctx.pool, f);
  }
  legs(orderId: bigint): Promise<PaymentLeg[]> {
    return store.legsOf(this.ctx.pool, orderId);
  }
  closeOrder(orderId: bigint): Promise<PaymentsResult<PaymentOrder>> {
    return closeOrder(this.ctx, orderId, 'merchant');
  }
  orderView(o: PaymentOrder): Record<string, unknown> {
    return orderView(o);
  }

  // ---- paying -----------------------------------------------------------------------------------
  payWithChannel(inp: ChannelPayInput) {
    return payWithChannel(this.ctx, inp);
  }
  confirmSms(inp: { orderId: bigint; smsCode: string }) {
    return confirmSms(this.ctx, inp);
  }
  /** `order`: the order as the caller just read it (saves a read; everything is checked again under its lock). */
  payCombined(inp: { orderId: bigint; legs: LegSpec[]; order?: PaymentOrder }) {
    return payCombined(this.ctx, inp);
  }
  /** The payer's current next step for an order (the cashier polls this). */
  async pendingAction(orderId: bigint): Promise<PayAction | null> {
    const legs = await store.legsOf(this.ctx.pool, orderId);
    return legs.find((l) => l.kind === 'channel' && l.status === 'pending')?.action ?? null;
  }

  /** A channel's asynchronous notification; answers what the provider expects back. */
  async channelNotification(channelAccountId: bigint, req: { headers: Record<string, string>; body: string }) {
    const r = await receiveChannelNotification(this.ctx, channelAccountId, req);
    if (r.combined && r.touchedOrderId) await driveCombined(this.ctx, r.touchedOrderId);
    return r.answer;
  }

  // ---- refunds ----------------------------------------------------------------------------------
  refund(inp: RefundInput): Promise<PaymentsResult<{ refund: PaymentRefund; parts: RefundPart[] }>> {
    return refundOrder(this.ctx, inp);
  }
  async getRefund(merchantId: bigint, merchantRefundNo: string): Promise<PaymentsResult<{ refund: PaymentRefund; parts: RefundPart[] }>> {
    const r = await store.getRefundByMerchantNo(this.ctx.pool, merchantId, merchantRefundNo);
    if (!r) return fail('refund_not_found', `no refund ${merchantRefundNo}`);
    return ok({ refund: r, parts: await store.partsOf(this.ctx.pool, r.id) });
  }
  refunds(orderId: bigint): Promise<PaymentRefund[]> {
    return store.refundsOf(this.ctx.pool, orderId);
  }
  refundView(r: PaymentRefund, o: PaymentOrder): Record<string, unknown> {
    return refundView(r, o);
  }

  // ---- merchant notifications and alerts ----------------------------------------------------------
  listNotifications(f: { merchantId?: bigint; orderId?: bigint; status?: string; afterId?: bigint; limit: number }): Promise<MerchantNotification[]> {
    return store.listNotifications(this.ctx.pool, f);
  }
  async notificationHistory(id: bigint): Promise<PaymentsResult<{ notification: MerchantNotification; attempts: Awaited<ReturnType<typeof store.notificationAttempts>> }>> {
    const n = await store.getNotification(this.ctx.pool, id);
    if (!n) return fail('notification_not_found', `no notification ${id}`);
    return ok({ notification: n, attempts: await store.notificationAttempts(this.ctx.pool, id) });
  }
  async replayNotification(id: bigint): Promise<PaymentsResult<MerchantNotification>> {
    const n = await store.getNotification(this.ctx.pool, id);
    if (!n) return fail('notification_not_found', `no notification ${id}`);
    if (n.status !== 'dead') return fail('invalid_order', `only a dead-lettered notification can be replayed; this one is ${n.status}`);
    await store.replayNotification(this.ctx.pool, id, this.ctx.clock.now());
    return ok((await store.getNotification(this.ctx.pool, id))!);
  }
  listAlerts(f: { open?: boolean; orderId?: bigint; limit: number }) {
    return store.listAlerts(this.ctx.pool, f);
  }

  // ---- jobs -------------------------------------------------------------------------------------
  /** Sends due merchant notifications; returns how many were attempted. */
  deliverNotifications(limit = 20): Promise<number> {
    return deliverDueNotifications(this.ctx, limit);
  }

  /** Asks channels about attempts whose outcome we are waiting for; returns how many were asked. */
  async queryDue(limit = 50): Promise<number> {
    const ids = await store.dueLegQueries(this.ctx.pool, this.ctx.clock.now(), limit);
    for (const id of ids) {
      await queryLeg(this.ctx, id);
      const leg = await store.getLeg(this.ctx.pool, id);
      if (leg && isCombinedLeg(await store.legsOf(this.ctx.pool, leg.orderId), leg)) await driveCombined(this.ctx, leg.orderId);
    }
    return ids.length;
  }

  /** Closes expired orders (their attempts first) and drives combined payments that stalled. */
  async expireAndRecover(limit = 50): Promise<number> {
    const now = this.ctx.clock.now();
    let n = 0;
    for (const id of await store.dueOrders(this.ctx.pool, now, limit)) {
      // One order's trouble (a channel that cannot answer) must not hold up the others.
      try {
        const legs = await store.legsOf(this.ctx.pool, id);
        if (combinedInFlight(legs)) await driveCombined(this.ctx, id);
        else await closeOrder(this.ctx, id, 'expired');
      } catch (e) {
        this.ctx.log?.warn({ order: id.toString(), err: (e as Error).message }, 'expiring an order failed');
      }
      await store.recheckLater(this.ctx.pool, id, new Date(this.ctx.clock.now().getTime() + RECHECK_MS));
      n++;
    }
    for (const id of await store.stalledCombinedOrders(this.ctx.pool, new Date(now.getTime() - STALL_MS), limit)) {
      try {
        await driveCombined(this.ctx, id);
      } catch (e) {
        this.ctx.log?.warn({ order: id.toString(), err: (e as Error).message }, 'driving a combined payment failed');
      }
      n++;
    }
    // Held payments whose risk case was decided without its handler finishing.
    try {
      n += await recoverReviews(this.ctx, this.runHeld);
    } catch (e) {
      this.ctx.log?.warn({ err: (e as Error).message }, 'recovering risk reviews failed');
    }
    return n;
  }

  /** Moves refunds whose parts are due forward. */
  async refundsDue(limit = 50): Promise<number> {
    const ids = await store.dueRefundParts(this.ctx.pool, this.ctx.clock.now(), limit);
    for (const id of ids) await driveRefund(this.ctx, id);
    return ids.length;
  }

  /** Runs every job once (tests and the CLI use this; the server runs them on timers). */
  async runJobsOnce(): Promise<void> {
    await this.queryDue();
    await this.expireAndRecover();
    await this.refundsDue();
    await this.deliverNotifications();
  }

  startWorkers(intervalMs = 1_000): void {
    const run = (name: string, f: () => Promise<unknown>) => {
      let running = false;
      return () => {
        if (running) return;
        running = true;
        void f().catch((e: unknown) => this.ctx.log?.warn({ err: (e as Error).message, job: name }, 'payments job failed')).finally(() => (running = false));
      };
    };
    // A tick drains what is due (in bounded rounds), so the outbox keeps up with the payment rate.
    const drain = async (f: (limit: number) => Promise<number>, limit: number): Promise<void> => {
      for (let round = 0; round < 50 && (await f(limit)) === limit; round++);
    };
    const timers = [
      setInterval(run('notifications', () => drain((n) => this.deliverNotifications(n), 100)), intervalMs),
      setInterval(run('queries', () => this.queryDue()), intervalMs),
      setInterval(run('refunds', () => this.refundsDue()), intervalMs),
      setInterval(run('expiry', () => this.expireAndRecover()), intervalMs * 5),
    ];
    for (const t of timers) t.unref();
    this.timers.push(...timers);
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

