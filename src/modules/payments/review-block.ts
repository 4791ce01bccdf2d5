/**
 * What a risk review means for an order's payment attempts (risk-gate.ts opens and resolves the
 * reviews): while one is open, no new attempt starts; once one was rejected, none ever does, and
 * the order can only end `failed` (`risk_rejected`) — unless an attempt already under way when the
 * review was opened succeeds. Without this, an attempt that ended after the rejection would give
 * the order back to the payer, and their next request would get a fresh decision.
 *
 * Asked of the database every time rather than of the risk port: a rejection stays a rejection even
 * if risk control is switched off afterwards.
 */
import type { Queryable } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import type { PaymentsResult } from './context.js';
import * as store from './payments.store.js';

/** Refuses a new payment attempt of the order while a review of it is open, or after one was rejected. */
export async function reviewBlock(db: Queryable, orderId: bigint): Promise<PaymentsResult<void>> {
  const h = await store.blockingReview(db, orderId);
  if (!h) return ok(undefined);
  const details = { case_id: h.caseId === null ? null : String(h.caseId) };
  if (h.status === 'rejected') return fail('risk_rejected', 'a payment of this order was declined by risk control', details);
  return fail('payment_in_progress', 'the payment is being reviewed by risk control', details);
}

/** Whether a review of the order was rejected: an order left without a live attempt then fails. */
export async function reviewRejected(db: Queryable, orderId: bigint): Promise<boolean> {
  return (await store.blockingReview(db, orderId))?.status === 'rejected';
}
