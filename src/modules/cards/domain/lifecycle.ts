/**
 * The card state machine. Pure: the store loads a card, calls `transition`, and writes back the
 * new state in the same transaction, so two concurrent events on one card are serialised by its
 * row lock and the second sees the first's result.
 *
 *   in_stock ──sell_activate──▶ active ◀──unfreeze── frozen
 *                                 │ └────freeze──────▶ │
 *            (named only) report_loss from active or frozen
 *                                 ▼
 *                          loss_reported (预挂失, provisional, lapses after 72 h)
 *              confirm_loss ▼          └─ cancel_loss_report / loss_report_lapsed ─▶ prior state
 *                          lost ──replace──▶ replaced (terminated; value moves to the new card)
 *                           └──redeem_close──▶ closed (terminated)
 *   active/frozen ──expire──▶ expired ──reactivate──▶ prior state; expired ──replace/redeem_close──▶ ...
 *
 * Leaving loss_reported or expired returns the card to the state it left (active or frozen), so a
 * risk freeze is not lifted by a lost-card call. The store keeps that state as `priorState` when
 * the card enters one of them and passes it back in the context.
 */
import { assertNever, fail, ok, type Result } from '../../../kernel/errors.js';

export const CARD_STATES = ['in_stock', 'active', 'frozen', 'loss_reported', 'lost', 'replaced', 'expired', 'closed'] as const;
export type CardState = (typeof CARD_STATES)[number];

export const CARD_EVENTS = [
  'sell_activate',
  'freeze',
  'unfreeze',
  'report_loss',
  'confirm_loss',
  'cancel_loss_report',
  'loss_report_lapsed',
  'replace',
  'expire',
  'reactivate',
  'redeem_close',
] as const;
export type CardEvent = (typeof CARD_EVENTS)[number];

/** States a card can return to when a loss report is withdrawn or an expired card is reactivated. */
export type ResumableState = 'active' | 'frozen';

export interface TransitionContext {
  named: boolean;
  /** The state the card was in before loss_reported or expired; active when unknown. */
  priorState?: ResumableState;
}

export type TransitionError = 'invalid_card_transition' | 'anonymous_card_not_reportable';

export function isCardState(s: unknown): s is CardState {
  return typeof s === 'string' && (CARD_STATES as readonly string[]).includes(s);
}

export function isCardEvent(e: unknown): e is CardEvent {
  return typeof e === 'string' && (CARD_EVENTS as readonly string[]).includes(e);
}

/** The next state, or why the event is refused in this state. */
export function transition(state: CardState, event: CardEvent, ctx: TransitionContext): Result<CardState, TransitionError> {
  // Anonymous cards have no holder identity to check a loss report against, so no state of theirs
  // accepts one (the rule lives in policy.checkLossReport; this is the state machine's own guard).
  if (!ctx.named && (event === 'report_loss' || event === 'confirm_loss' || event === 'cancel_loss_report' || event === 'loss_report_lapsed')) {
    return fail('anonymous_card_not_reportable', 'anonymous cards cannot be reported lost', { state, event });
  }
  const next = nextState(state, event, ctx.priorState ?? 'active');
  if (next === null) {
    return fail('invalid_card_transition', `a card that is ${state} cannot take ${event}`, { state, event });
  }
  return ok(next);
}

function nextState(state: CardState, event: CardEvent, resume: ResumableState): CardState | null {
  switch (event) {
    case 'sell_activate':
      return state === 'in_stock' ? 'active' : null;
    case 'freeze':
      return state === 'active' ? 'frozen' : null;
    case 'unfreeze':
      return state === 'frozen' ? 'active' : null;
    case 'report_loss':
      return state === 'active' || state === 'frozen' ? 'loss_reported' : null;
    case 'confirm_loss':
      return state === 'loss_reported' ? 'lost' : null;
    case 'cancel_loss_report':
    case 'loss_report_lapsed':
      return state === 'loss_reported' ? resume : null;
    case 'replace':
      // A damaged or expired card is replaced as well as a lost one; a frozen one is not until
      // the freeze (often a risk case) is settled.
      return state === 'lost' || state === 'active' || state === 'expired' ? 'replaced' : null;
    case 'expire':
      return state === 'active' || state === 'frozen' ? 'expired' : null;
    case 'reactivate':
      return state === 'expired' ? resume : null;
    case 'redeem_close':
      return state === 'active' || state === 'lost' || state === 'expired' ? 'closed' : null;
    default:
      return assertNever(event, 'card event');
  }
}

/** Replaced and closed cards never move again and never hold or move money. */
export function isTerminated(state: CardState): boolean {
  switch (state) {
    case 'replaced':
    case 'closed':
      return true;
    case 'in_stock':
    case 'active':
    case 'frozen':
    case 'loss_reported':
    case 'lost':
    case 'expired':
      return false;
    default:
      return assertNever(state, 'card state');
  }
}

/** Whether a holder's payment (consumption, combined-payment hold) may take money from the card. */
export function canDebit(state: CardState): boolean {
  switch (state) {
    case 'active':
      return true;
    case 'in_stock':
    case 'frozen':
    case 'loss_reported':
    case 'lost':
    case 'replaced':
    case 'expired':
    case 'closed':
      return false;
    default:
      return assertNever(state, 'card state');
  }
}

export type CreditKind = 'recharge' | 'refund';

/**
 * Whether money may arrive on the card. A recharge needs an active card. A refund of an earlier
 * purchase is also accepted while the card is frozen, loss-reported, lost or expired: the value
 * stays the holder's and follows the card to its replacement or redemption, and refusing it would
 * strand the merchant's refund. The initial load at sale and the balance moves made by replace,
 * redeem and expiry breakage are part of those events, not credits checked here.
 */
export function canCredit(state: CardState, kind: CreditKind = 'recharge'): boolean {
  switch (state) {
    case 'active':
      return true;
    case 'frozen':
    case 'loss_reported':
    case 'lost':
    case 'expired':
      return kindAllowsParkedValue(kind);
    case 'in_stock':
    case 'replaced':
    case 'closed':
      return false;
    default:
      return assertNever(state, 'card state');
  }
}

function kindAllowsParkedValue(kind: CreditKind): boolean {
  switch (kind) {
    case 'recharge':
      return false;
    case 'refund':
      return true;
    default:
      return assertNever(kind, 'credit kind');
  }
}

/** Whether entering `next` means the store must keep the card's current state as `priorState`. */
export function recordsPriorState(next: CardState): boolean {
  return next === 'loss_reported' || next === 'expired';
}

/** The instant a provisional loss report lapses unless confirmed (hours from the policy, default 72). */
export function lossReportLapsesAt(reportedAt: Date, provisionalHours = 72): Date {
  if (!Number.isInteger(provisionalHours) || provisionalHours < 1) throw new Error('provisionalHours must be a positive integer');
  return new Date(reportedAt.getTime() + provisionalHours * 3_600_000);
}

/** True from the lapse instant on; the worker then applies `loss_report_lapsed`. */
export function isLossReportLapsed(inp: { reportedAt: Date; now: Date; provisionalHours?: number }): boolean {
  return inp.now.getTime() >= lossReportLapsesAt(inp.reportedAt, inp.provisionalHours).getTime();
}
