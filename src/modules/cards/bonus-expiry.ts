/**
 * Promotional bonus expiry (充值送 with its own validity). A recharge whose bonus rule has
 * `validDays` records when that bonus expires; this job forfeits what is left of it then, posting
 * Dr card bonus / Cr breakage income as a card transaction of kind `breakage`.
 *
 * How much is left of one grant is not tracked per consume (that would put a write per grant on
 * the payment path); it is worked out when the grant expires, by replaying the card's bonus
 * history (domain/bonus-lots.ts: spends come from the earliest-expiring valid grant). Each
 * grant is dealt with once: the forfeiture runs through the cards exactly-once protocol under the
 * key `bonus-expiry:<grant id>`, and the grant is marked done after it succeeds, so a crash in
 * between repeats nothing. Bonus expires at the job's next run after its time (every minute in
 * the server), not to the millisecond; a consume in that gap may still spend it.
 */
import { fail, ok } from '../../kernel/errors.js';
import { availableBalance } from '../ledger/index.js';
import * as store from './cards.store.js';
import { requestHash, systemAccount, type CardsResult, type Ctx } from './context.js';
import { isTerminated, type CardState } from './domain/lifecycle.js';
import { execute } from './execute.js';
import { expiredBonusLeft } from './domain/bonus-lots.js';
import { hooks, liveCardId } from './operations.js';
import { policyFor } from './products.js';
import type { CardTransaction } from './types.js';

/** Forfeits expired bonus of up to `limit` due grants; returns how many grants were dealt with. */
export async function expireBonuses(ctx: Ctx, limit = 500): Promise<number> {
  const now = ctx.clock.now();
  let done = 0;
  for (const g of await store.dueBonusGrants(ctx.pool, now, limit)) {
    const r = await forfeitExpiredBonus(ctx, g.id, g.cardId);
    // A refusal other than "nothing left" (e.g. the card's accounts are frozen during a loss
    // report) leaves the grant due, to be tried again on a later run.
    if (r.ok || r.code === 'no_expired_bonus' || r.code === 'card_terminated') {
      await store.markBonusExpiryDone(ctx.pool, g.id);
      done++;
    } else {
      ctx.log?.warn({ grant: g.id.toString(), code: r.code }, 'expired bonus not forfeited yet');
    }
  }
  return done;
}

async function forfeitExpiredBonus(ctx: Ctx, grantId: bigint, grantCardId: bigint): Promise<CardsResult<CardTransaction>> {
  const cardId = await liveCardId(ctx, grantCardId);
  return execute(ctx, hooks, {
    cardId, key: `bonus-expiry:${grantId}`, hash: requestHash({ op: 'bonus-expiry', grant: grantId }), currency: 'CNY',
    plan: async (c, card) => {
      if (isTerminated(card.status as CardState)) return fail('card_terminated', `the card is ${card.status}`);
      const now = ctx.clock.now();
      const [bonusAccount] = await ctx.ledger.getAccounts([card.bonusAccountId]);
      if (!bonusAccount) throw new Error(`card ${card.id} has no bonus account`);
      const left = expiredBonusLeft(await store.bonusHistory(c, card.id), now).get(grantId) ?? 0n;
      const balance = availableBalance(bonusAccount);
      const forfeit = left < balance ? left : balance;
      if (forfeit <= 0n) return fail('no_expired_bonus', 'the bonus of this grant was spent before it expired');
      const income = await systemAccount(ctx, 'breakage_income', 'CNY');
      if (!income.ok) return income;
      const p = (await store.getProduct(c, card.productId))!;
      return ok({
        kind: 'breakage', amount: forfeit, bonusAmount: forfeit, relatedId: grantId, policyVersion: policyFor(p).version,
        legs: [{ leg: 'bonus', debitAccountId: card.bonusAccountId, creditAccountId: income.value, amount: forfeit, code: 'card_bonus_expired' }],
      });
    },
  });
}
