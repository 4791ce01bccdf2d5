// Proves the card state machine takes exactly the documented transitions, and (fast-check) that random event sequences never revive a terminated card, never let one move money, never put an anonymous card into a loss state, and restore a freeze after a loss report or expiry.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canCredit,
  canDebit,
  CARD_EVENTS,
  CARD_STATES,
  isCardEvent,
  isCardState,
  isLossReportLapsed,
  isTerminated,
  lossReportLapsesAt,
  recordsPriorState,
  transition,
  type CardEvent,
  type CardState,
  type ResumableState,
} from './lifecycle.js';

const named = { named: true };
const next = (s: CardState, e: CardEvent, ctx: { named: boolean; priorState?: ResumableState } = named) => {
  const r = transition(s, e, ctx);
  return r.ok ? r.value : r.code;
};

/** Every allowed (state, event) -> state for a named card whose prior state is active. */
const ALLOWED: Record<string, CardState> = {
  'in_stock/sell_activate': 'active',
  'active/freeze': 'frozen',
  'frozen/unfreeze': 'active',
  'active/report_loss': 'loss_reported',
  'frozen/report_loss': 'loss_reported',
  'loss_reported/confirm_loss': 'lost',
  'loss_reported/cancel_loss_report': 'active',
  'loss_reported/loss_report_lapsed': 'active',
  'lost/replace': 'replaced',
  'active/replace': 'replaced',
  'expired/replace': 'replaced',
  'active/expire': 'expired',
  'frozen/expire': 'expired',
  'expired/reactivate': 'active',
  'active/redeem_close': 'closed',
  'lost/redeem_close': 'closed',
  'expired/redeem_close': 'closed',
};

describe('transition', () => {
  it('allows exactly the documented transitions and refuses the rest with invalid_card_transition', () => {
    for (const s of CARD_STATES) {
      for (const e of CARD_EVENTS) {
        const r = transition(s, e, named);
        const expected = ALLOWED[`${s}/${e}`];
        if (expected) expect(r, `${s}/${e}`).toEqual({ ok: true, value: expected });
        else expect(r, `${s}/${e}`).toMatchObject({ ok: false, code: 'invalid_card_transition', details: { state: s, event: e } });
      }
    }
  });

  it('refuses every loss event on an anonymous card with its own code', () => {
    for (const s of CARD_STATES) {
      for (const e of ['report_loss', 'confirm_loss', 'cancel_loss_report', 'loss_report_lapsed'] as const) {
        expect(next(s, e, { named: false })).toBe('anonymous_card_not_reportable');
      }
    }
    expect(next('active', 'freeze', { named: false })).toBe('frozen');
  });

  it('returns a withdrawn loss report or a reactivated card to the state it left', () => {
    const frozen = { named: true, priorState: 'frozen' as const };
    expect(next('loss_reported', 'cancel_loss_report', frozen)).toBe('frozen');
    expect(next('loss_reported', 'loss_report_lapsed', frozen)).toBe('frozen');
    expect(next('expired', 'reactivate', frozen)).toBe('frozen');
    expect(recordsPriorState('loss_reported')).toBe(true);
    expect(recordsPriorState('expired')).toBe(true);
    expect(recordsPriorState('frozen')).toBe(false);
  });

  it('recognises its own states and events', () => {
    expect(isCardState('lost')).toBe(true);
    expect(isCardState('stolen')).toBe(false);
    expect(isCardEvent('redeem_close')).toBe(true);
    expect(isCardEvent('close')).toBe(false);
  });
});

describe('money movement by state', () => {
  it('debits only active cards; recharges only active cards; refunds while the value is still the holder\'s', () => {
    expect(CARD_STATES.filter(canDebit)).toEqual(['active']);
    expect(CARD_STATES.filter((s) => canCredit(s, 'recharge'))).toEqual(['active']);
    expect(CARD_STATES.filter((s) => canCredit(s, 'refund'))).toEqual(['active', 'frozen', 'loss_reported', 'lost', 'expired']);
    expect(CARD_STATES.filter(isTerminated)).toEqual(['replaced', 'closed']);
  });
});

describe('provisional loss reports', () => {
  it('lapse exactly 72 hours after the report', () => {
    const reportedAt = new Date('2025-05-01T08:00:00Z');
    expect(lossReportLapsesAt(reportedAt)).toEqual(new Date('2025-05-04T08:00:00Z'));
    expect(isLossReportLapsed({ reportedAt, now: new Date('2025-05-04T07:59:59.999Z') })).toBe(false);
    expect(isLossReportLapsed({ reportedAt, now: new Date('2025-05-04T08:00:00Z') })).toBe(true);
    expect(isLossReportLapsed({ reportedAt, now: new Date('2025-05-03T08:00:00Z'), provisionalHours: 48 })).toBe(true);
    expect(() => lossReportLapsesAt(reportedAt, 0)).toThrow();
  });
});

describe('random event sequences (fast-check)', () => {
  it('keep every lifecycle invariant', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.constantFrom(...CARD_EVENTS), { maxLength: 60 }), (isNamed, events) => {
        let state: CardState = 'in_stock';
        let prior: ResumableState | undefined;
        let frozenBeforeSuspend = false;
        let terminatedAt = -1;
        events.forEach((e, i) => {
          const r = transition(state, e, { named: isNamed, ...(prior ? { priorState: prior } : {}) });
          if (terminatedAt >= 0) {
            // Nothing moves a terminated card.
            expect(r.ok).toBe(false);
            return;
          }
          if (!r.ok) {
            expect(['invalid_card_transition', 'anonymous_card_not_reportable']).toContain(r.code);
            return;
          }
          if (recordsPriorState(r.value) && (state === 'active' || state === 'frozen')) {
            prior = state;
            frozenBeforeSuspend = state === 'frozen';
          }
          const leftSuspension = (state === 'loss_reported' || state === 'expired') && (r.value === 'active' || r.value === 'frozen');
          // A freeze survives a withdrawn loss report or a reactivation.
          if (leftSuspension) expect(r.value === 'frozen').toBe(frozenBeforeSuspend);
          state = r.value;
          if (isTerminated(state)) terminatedAt = i;
          if (!isNamed) expect(['loss_reported', 'lost']).not.toContain(state);
        });
        if (isTerminated(state)) {
          expect(canDebit(state)).toBe(false);
          expect(canCredit(state, 'recharge')).toBe(false);
          expect(canCredit(state, 'refund')).toBe(false);
        }
        expect(isTerminated(state)).toBe(terminatedAt >= 0);
      }),
      { numRuns: 2000 },
    );
  });
});
