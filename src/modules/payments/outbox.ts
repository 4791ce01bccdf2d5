/**
 * Merchant notifications (商户通知): at least once, from the outbox rows written in the same
 * transaction as the state change. Each delivery is a signed POST (the Paycore signature the
 * merchant uses for its own requests — see parties.signNotification) of a JSON body that carries
 * the notification id, so merchants can drop repeats. A 2xx answer ends it; anything else is
 * retried on the schedule (about 24 hours in all), after which it is dead-lettered and an operator
 * can replay it. Rows are claimed with a short lease (FOR UPDATE SKIP LOCKED), so several workers
 * or processes never send one notification at the same time.
 */
import { performance } from 'node:perf_hooks';
import { httpSend } from '../../kernel/http-client.js';
import { DEFAULT_NOTIFY_SCHEDULE_MS, type Ctx } from './context.js';
import * as store from './payments.store.js';
import type { MerchantNotification } from './types.js';

const LEASE_MS = 60_000;
const TIMEOUT_MS = 10_000;

export function notificationBody(n: MerchantNotification): string {
  return JSON.stringify({ id: n.id.toString(), event: n.eventType, created_at: n.createdAt.toISOString(), data: n.payload });
}

export async function deliverDueNotifications(ctx: Ctx, limit = 20): Promise<number> {
  const now = ctx.clock.now();
  const due = await store.claimDueNotifications(ctx.pool, now, new Date(now.getTime() + LEASE_MS), limit);
  await Promise.all(due.map((n) => deliver(ctx, n)));
  return due.length;
}

async function deliver(ctx: Ctx, n: MerchantNotification): Promise<void> {
  const schedule = ctx.notifyScheduleMs ?? DEFAULT_NOTIFY_SCHEDULE_MS;
  const body = notificationBody(n);
  const url = new URL(n.url);
  const started = performance.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    const sig = await ctx.parties.signNotification({ merchantId: n.merchantId, method: 'POST', pathWithQuery: `${url.pathname}${url.search}`, body, now: ctx.clock.now() });
    const res = await httpSend({ url, method: 'POST', body, timeoutMs: TIMEOUT_MS, idempotent: true, maxBytes: 64 * 1024, headers: { 'content-type': 'application/json', 'paycore-signature': sig.header, 'paycore-notification-id': n.id.toString() } });
    if (res.ok) status = res.answer.status;
    else error = res.reason.slice(0, 500);
  } catch (e) {
    error = (e as Error).message.slice(0, 500);
  }
  const at = ctx.clock.now();
  const delivered = status !== null && status >= 200 && status < 300;
  const attempt = n.attempts + 1;
  const dead = !delivered && attempt >= schedule.length;
  const next = new Date(at.getTime() + (schedule[Math.min(attempt, schedule.length - 1)] ?? 0));
  await store.recordNotificationAttempt(ctx.pool, { id: ctx.nextId(), notificationId: n.id, at, httpStatus: status, error: error ?? (delivered ? null : `HTTP ${status}`), durationMs: Math.round(performance.now() - started), delivered, dead, nextAttemptAt: next });
  if (dead) ctx.log?.warn({ notification: n.id.toString(), merchant: n.merchantId.toString() }, 'merchant notification dead-lettered');
}
