/**
 * How a card operation moves money and stays exactly-once:
 *
 * 1. Under the card's row lock (so operations on one card never interleave), validate the card,
 *    the policy and the amounts, and plan the ledger legs.
 * 2. Persist the intent: a `pending` card transaction row, committed on its own, naming the
 *    amounts. Its id makes every leg's ledger idempotency key (`cardtx:<id>:<leg>`).
 * 3. Submit the legs to the ledger as one linked chain (all or nothing).
 * 4. Record the outcome (and the card's state change, if any) and release the lock.
 *
 * A crash after 2 leaves a pending row; a retry with the same idempotency key, or the recovery
 * worker, re-submits the same legs (the ledger answers "existed" for those already applied) and
 * finishes the record — never moving money twice and never guessing.
 *
 * A leg may be a ledger hold (`pending`, with a timeout) or resolve one (`post_pending`,
 * `void_pending`): card holds for combined payments (holds.ts) use the same protocol.
 */
import { fail, ok } from '../../kernel/errors.js';
import type { TransferRequest } from '../ledger/index.js';
import type { CardsErrorCode, LedgerCode } from './errors.js';
import type { CardsResult, Ctx } from './context.js';

export interface Leg {
  leg: string;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amount: bigint;
  code: string;
  reversesId?: bigint;
  /** The ledger transfer kind; absent means posted. Holds are `pending`, captures and releases resolve them. */
  kind?: LegKind;
  /** For `post_pending` / `void_pending`: the pending ledger transfer this leg resolves. */
  pendingId?: bigint;
  /** For `pending`: seconds after which the ledger expires the hold by itself. */
  timeoutSeconds?: number;
}

export type LegKind = 'posted' | 'pending' | 'post_pending' | 'void_pending';

/** How a leg is written into its card transaction's metadata (the intent), and read back. */
export interface LegRecord {
  leg: string;
  debit: string;
  credit: string;
  amount: string;
  code: string;
  reverses?: string;
  kind?: LegKind;
  pending?: string;
  timeout?: number;
}

export function legToRecord(l: Leg): LegRecord {
  return {
    leg: l.leg, debit: l.debitAccountId.toString(), credit: l.creditAccountId.toString(), amount: l.amount.toString(), code: l.code,
    ...(l.reversesId !== undefined ? { reverses: l.reversesId.toString() } : {}),
    ...(l.kind !== undefined && l.kind !== 'posted' ? { kind: l.kind } : {}),
    ...(l.pendingId !== undefined ? { pending: l.pendingId.toString() } : {}),
    ...(l.timeoutSeconds !== undefined ? { timeout: l.timeoutSeconds } : {}),
  };
}

/** The legs an operation's intent names (for finishing it, or for resolving a hold's legs). */
export function legsOf(tx: { metadata: Record<string, unknown> }): Leg[] {
  const raw = (tx.metadata['legs'] ?? []) as LegRecord[];
  return raw.map((l) => ({
    leg: l.leg, debitAccountId: BigInt(l.debit), creditAccountId: BigInt(l.credit), amount: BigInt(l.amount), code: l.code,
    ...(l.reverses ? { reversesId: BigInt(l.reverses) } : {}),
    ...(l.kind ? { kind: l.kind } : {}),
    ...(l.pending ? { pendingId: BigInt(l.pending) } : {}),
    ...(l.timeout !== undefined ? { timeoutSeconds: l.timeout } : {}),
  }));
}

/** Ledger codes a card holder or operator should see in card terms. */
export function mapLedgerCode(code: LedgerCode): CardsErrorCode {
  switch (code) {
    case 'insufficient_funds':
      return 'insufficient_balance';
    case 'debit_account_frozen':
    case 'credit_account_frozen':
      return 'card_not_active';
    case 'debit_account_closed':
    case 'credit_account_closed':
      return 'card_terminated';
    case 'exceeds_reversible_amount':
      return 'refund_exceeds_remaining';
    // A hold the ledger no longer holds (it timed out, or was resolved outside this operation).
    case 'pending_transfer_expired':
    case 'pending_transfer_already_voided':
    case 'pending_transfer_already_posted':
      return 'hold_not_active';
    default:
      return code;
  }
}

export function legKey(txId: bigint, leg: string): string {
  return `cardtx:${txId}:${leg}`;
}

/** Submits the legs as one linked chain. Zero legs are dropped; the ledger refuses zero amounts. */
export async function runLegs(ctx: Ctx, txId: bigint, currency: string, legs: readonly Leg[]): Promise<CardsResult<void>> {
  const real = legs.filter((l) => l.amount > 0n);
  if (real.length === 0) return ok(undefined);
  const reqs: TransferRequest[] = real.map((l, i) => ({
    idempotencyKey: legKey(txId, l.leg),
    debitAccountId: l.debitAccountId,
    creditAccountId: l.creditAccountId,
    amount: l.amount,
    currency,
    code: l.code,
    linked: i < real.length - 1,
    metadata: { card_tx: txId.toString() },
    ...(l.reversesId !== undefined ? { reversesId: l.reversesId } : {}),
    ...(l.kind !== undefined && l.kind !== 'posted' ? { kind: l.kind } : {}),
    ...(l.pendingId !== undefined ? { pendingId: l.pendingId } : {}),
    ...(l.timeoutSeconds !== undefined ? { timeoutSeconds: l.timeoutSeconds } : {}),
  }));
  const r = await ctx.ledger.createTransfers(reqs);
  if (!r.ok) return fail(mapLedgerCode(r.code), r.message);
  const bad = r.value.find((o) => !o.ok && o.code !== 'linked_event_failed') ?? r.value.find((o) => !o.ok);
  if (bad && !bad.ok) return fail(mapLedgerCode(bad.code), bad.message, { ledger_code: bad.code });
  return ok(undefined);
}

/** The ledger transfer ids of a finished operation's legs (for reversals). */
export async function legTransferId(ctx: Ctx, txId: bigint, leg: string): Promise<bigint | undefined> {
  const t = await ctx.ledger.getTransferByKey(legKey(txId, leg));
  return t.ok ? t.value.id : undefined;
}
