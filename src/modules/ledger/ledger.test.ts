// Proves the ledger's transfer semantics against real PostgreSQL: postings, limits, holds, chains, idempotency, reversals, expiry, freezes, history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../kernel/clock.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';

let f: LedgerFixture;
const clock = new ManualClock(Date.UTC(2026, 10, 22, 3, 0, 0));
beforeAll(async () => {
  f = await ledgerFixture({ clock });
});
afterAll(async () => {
  await f.close();
});

let n = 0;
const key = (): string => `k-${++n}`;

async function fund(bank: bigint, acct: bigint, amount: bigint): Promise<void> {
  const r = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: bank, creditAccountId: acct, amount, currency: 'CNY' });
  if (!r.ok) throw new Error(r.code);
}

describe('transfers', () => {
  it('posts a transfer, moves both balances and records running balances', async () => {
    const bank = await f.account({ type: 'asset' });
    const wallet = await f.account({ debitsMustNotExceedCredits: true });
    const r = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: bank, creditAccountId: wallet, amount: 1000n, currency: 'CNY', code: 'top_up' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.existed).toBe(false);
    expect(r.value.transfer.creditBalanceAfter).toBe(1000n);
    expect(r.value.transfer.debitBalanceAfter).toBe(1000n);
    const w = await f.ledger.getAccount(wallet);
    expect(w.ok && w.value.creditsPosted).toBe(1000n);
  });

  it('refuses an overdraft with insufficient_funds and writes nothing', async () => {
    const bank = await f.account({ type: 'asset' });
    const wallet = await f.account({ debitsMustNotExceedCredits: true });
    const shop = await f.account({});
    await fund(bank, wallet, 500n);
    const r = await f.ledger.transfer({ idempotencyKey: 'overdraft-1', debitAccountId: wallet, creditAccountId: shop, amount: 501n, currency: 'CNY' });
    expect(r.ok ? 'ok' : r.code).toBe('insufficient_funds');
    expect((await f.ledger.getTransferByKey('overdraft-1')).ok).toBe(false);
    const w = await f.ledger.getAccount(wallet);
    expect(w.ok && w.value.debitsPosted).toBe(0n);
  });

  it('allows debits up to the credit limit, then exceeds_credit_limit; the limit can be raised', async () => {
    const wallet = await f.account({ debitsMustNotExceedCredits: true, creditLimit: 300n });
    const shop = await f.account({});
    const a = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: wallet, creditAccountId: shop, amount: 300n, currency: 'CNY' });
    expect(a.ok).toBe(true);
    const b = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: wallet, creditAccountId: shop, amount: 1n, currency: 'CNY' });
    expect(b.ok ? 'ok' : b.code).toBe('exceeds_credit_limit');
    const low = await f.ledger.setCreditLimit({ id: wallet, creditLimit: 100n });
    expect(low.ok ? 'ok' : low.code).toBe('limit_below_current_usage');
    expect((await f.ledger.setCreditLimit({ id: wallet, creditLimit: 400n })).ok).toBe(true);
    const c = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: wallet, creditAccountId: shop, amount: 100n, currency: 'CNY' });
    expect(c.ok).toBe(true);
  });

  it('returns the original transfer for a retry and names the difference for a changed retry', async () => {
    const bank = await f.account({ type: 'asset' });
    const wallet = await f.account({});
    const first = await f.ledger.transfer({ idempotencyKey: 'idem-1', debitAccountId: bank, creditAccountId: wallet, amount: 70n, currency: 'CNY' });
    const again = await f.ledger.transfer({ idempotencyKey: 'idem-1', debitAccountId: bank, creditAccountId: wallet, amount: 70n, currency: 'CNY' });
    expect(first.ok && again.ok && again.value.existed && again.value.transfer.id === first.value.transfer.id).toBe(true);
    const diffAmount = await f.ledger.transfer({ idempotencyKey: 'idem-1', debitAccountId: bank, creditAccountId: wallet, amount: 71n, currency: 'CNY' });
    expect(diffAmount.ok ? 'ok' : diffAmount.code).toBe('exists_with_different_amount');
    const diffCredit = await f.ledger.transfer({ idempotencyKey: 'idem-1', debitAccountId: bank, creditAccountId: bank + 1n, amount: 70n, currency: 'CNY' });
    expect(diffCredit.ok ? 'ok' : diffCredit.code).toBe('exists_with_different_credit_account_id');
    const w = await f.ledger.getAccount(wallet);
    expect(w.ok && w.value.creditsPosted).toBe(70n);
  });

  it('names every account-level rejection', async () => {
    const bank = await f.account({ type: 'asset' });
    const usd = await f.account({ currency: 'USD' });
    const frozen = await f.account({});
    const closed = await f.account({});
    await f.ledger.setAccountStatus({ id: frozen, status: 'credit_frozen', reason: 'court order' });
    await f.ledger.setAccountStatus({ id: closed, status: 'closed' });
    const t = (credit: bigint, currency = 'CNY') => f.ledger.transfer({ idempotencyKey: key(), debitAccountId: bank, creditAccountId: credit, amount: 1n, currency });
    const codeOf = async (p: ReturnType<typeof t>) => {
      const r = await p;
      return r.ok ? 'ok' : r.code;
    };
    expect(await codeOf(t(usd))).toBe('currency_mismatch');
    expect(await codeOf(t(usd, 'USD'))).toBe('currency_mismatch');
    expect(await codeOf(t(frozen))).toBe('credit_account_frozen');
    expect(await codeOf(t(closed))).toBe('credit_account_closed');
    expect(await codeOf(t(999n))).toBe('credit_account_not_found');
    expect(await codeOf(t(bank))).toBe('accounts_must_be_different');
    const changes = await f.ledger.accountChanges(frozen);
    expect(changes).toMatchObject([{ field: 'status', oldValue: 'active', newValue: 'credit_frozen', reason: 'court order' }]);
  });

  it('holds, posts part of a hold and releases the rest', async () => {
    const card = await f.account({ debitsMustNotExceedCredits: true });
    const bank = await f.account({ type: 'asset' });
    const shop = await f.account({});
    await fund(bank, card, 1000n);
    const hold = await f.ledger.transfer({ idempotencyKey: key(), kind: 'pending', debitAccountId: card, creditAccountId: shop, amount: 800n, currency: 'CNY' });
    expect(hold.ok).toBe(true);
    if (!hold.ok) return;
    const c1 = await f.ledger.getAccount(card);
    expect(c1.ok && c1.value.debitsPending).toBe(800n);
    // The hold reserves funds: a second debit beyond the rest fails.
    const over = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: card, creditAccountId: shop, amount: 201n, currency: 'CNY' });
    expect(over.ok ? 'ok' : over.code).toBe('insufficient_funds');
    const tooMuch = await f.ledger.transfer({ idempotencyKey: key(), kind: 'post_pending', pendingId: hold.value.transfer.id, amount: 801n });
    expect(tooMuch.ok ? 'ok' : tooMuch.code).toBe('exceeds_pending_transfer_amount');
    const post = await f.ledger.transfer({ idempotencyKey: key(), kind: 'post_pending', pendingId: hold.value.transfer.id, amount: 600n });
    expect(post.ok).toBe(true);
    const c2 = await f.ledger.getAccount(card);
    expect(c2.ok && [c2.value.debitsPending, c2.value.debitsPosted]).toEqual([0n, 600n]);
    const again = await f.ledger.transfer({ idempotencyKey: key(), kind: 'void_pending', pendingId: hold.value.transfer.id });
    expect(again.ok ? 'ok' : again.code).toBe('pending_transfer_already_posted');
    const p = await f.ledger.getTransfer(hold.value.transfer.id);
    expect(p.ok && [p.value.pendingStatus, p.value.postedAmount]).toEqual(['posted', 600n]);
  });

  it('voids a hold on a frozen account (releasing is always allowed) but will not post it', async () => {
    const card = await f.account({ debitsMustNotExceedCredits: true });
    const bank = await f.account({ type: 'asset' });
    const shop = await f.account({});
    await fund(bank, card, 100n);
    const hold = await f.ledger.transfer({ idempotencyKey: key(), kind: 'pending', debitAccountId: card, creditAccountId: shop, amount: 100n, currency: 'CNY' });
    if (!hold.ok) throw new Error(hold.code);
    await f.ledger.setAccountStatus({ id: card, status: 'frozen' });
    const post = await f.ledger.transfer({ idempotencyKey: key(), kind: 'post_pending', pendingId: hold.value.transfer.id });
    expect(post.ok ? 'ok' : post.code).toBe('debit_account_frozen');
    const voided = await f.ledger.transfer({ idempotencyKey: key(), kind: 'void_pending', pendingId: hold.value.transfer.id });
    expect(voided.ok).toBe(true);
    const c = await f.ledger.getAccount(card);
    expect(c.ok && c.value.debitsPending).toBe(0n);
  });

  it('expires a hold after its timeout, exactly once', async () => {
    const card = await f.account({ debitsMustNotExceedCredits: true });
    const bank = await f.account({ type: 'asset' });
    const shop = await f.account({});
    await fund(bank, card, 100n);
    const hold = await f.ledger.transfer({ idempotencyKey: key(), kind: 'pending', debitAccountId: card, creditAccountId: shop, amount: 60n, currency: 'CNY', timeoutSeconds: 30 });
    if (!hold.ok) throw new Error(hold.code);
    expect(await f.ledger.expirePendingTransfers()).toBe(0);
    clock.advance(31_000);
    const late = await f.ledger.transfer({ idempotencyKey: key(), kind: 'post_pending', pendingId: hold.value.transfer.id });
    expect(late.ok ? 'ok' : late.code).toBe('pending_transfer_expired');
    const expired = await f.ledger.expirePendingTransfers();
    expect(expired).toBeGreaterThanOrEqual(1);
    expect(await f.ledger.expirePendingTransfers()).toBe(0);
    const p = await f.ledger.getTransfer(hold.value.transfer.id);
    expect(p.ok && p.value.pendingStatus).toBe('expired');
    const c = await f.ledger.getAccount(card);
    expect(c.ok && c.value.debitsPending).toBe(0n);
  });

  it('applies a linked chain all or nothing', async () => {
    const bank = await f.account({ type: 'asset' });
    const a = await f.account({ debitsMustNotExceedCredits: true });
    const b = await f.account({});
    await fund(bank, a, 100n);
    const r = await f.ledger.createTransfers([
      { idempotencyKey: 'chain-1', debitAccountId: a, creditAccountId: b, amount: 60n, currency: 'CNY', linked: true },
      { idempotencyKey: 'chain-2', debitAccountId: a, creditAccountId: b, amount: 60n, currency: 'CNY' },
      { idempotencyKey: 'after-chain', debitAccountId: a, creditAccountId: b, amount: 10n, currency: 'CNY' },
    ]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['linked_event_failed', 'insufficient_funds', 'ok']);
    const acct = await f.ledger.getAccount(a);
    expect(acct.ok && acct.value.debitsPosted).toBe(10n);
    expect((await f.ledger.getTransferByKey('chain-1')).ok).toBe(false);
    const open = await f.ledger.createTransfers([{ idempotencyKey: 'open-1', debitAccountId: a, creditAccountId: b, amount: 1n, currency: 'CNY', linked: true }]);
    expect(open.ok && open.value.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['linked_event_chain_open']);
  });

  it('reverses a transfer at most up to its amount', async () => {
    const bank = await f.account({ type: 'asset' });
    const w = await f.account({ debitsMustNotExceedCredits: true });
    const t = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: bank, creditAccountId: w, amount: 100n, currency: 'CNY' });
    if (!t.ok) throw new Error(t.code);
    const wrongWay = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: bank, creditAccountId: w, amount: 10n, currency: 'CNY', reversesId: t.value.transfer.id });
    expect(wrongWay.ok ? 'ok' : wrongWay.code).toBe('reversal_accounts_mismatch');
    const r1 = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: w, creditAccountId: bank, amount: 60n, currency: 'CNY', reversesId: t.value.transfer.id, code: 'reversal' });
    expect(r1.ok).toBe(true);
    const r2 = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: w, creditAccountId: bank, amount: 41n, currency: 'CNY', reversesId: t.value.transfer.id });
    expect(r2.ok ? 'ok' : r2.code).toBe('exceeds_reversible_amount');
    const orig = await f.ledger.getTransfer(t.value.transfer.id);
    expect(orig.ok && orig.value.reversedAmount).toBe(60n);
  });

  it('keeps a statement with running balances and answers point-in-time balances', async () => {
    const bank = await f.account({ type: 'asset' });
    const w = await f.account({ debitsMustNotExceedCredits: true });
    const shop = await f.account({});
    const t0 = clock.now();
    clock.advance(1000);
    await fund(bank, w, 500n);
    clock.advance(1000);
    const mid = clock.now();
    clock.advance(1000);
    await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: w, creditAccountId: shop, amount: 120n, currency: 'CNY', code: 'consume' });
    const st = await f.ledger.statement({ accountId: w, limit: 10 });
    expect(st.ok && st.value.map((e) => [e.side, e.transfer.amount, e.balanceAfter])).toEqual([
      ['credit', 500n, 500n],
      ['debit', 120n, 380n],
    ]);
    const consumeOnly = await f.ledger.statement({ accountId: w, limit: 10, code: 'consume' });
    expect(consumeOnly.ok && consumeOnly.value.length).toBe(1);
    expect((await f.ledger.balanceAt(w, t0)).ok && (await f.ledger.balanceAt(w, t0))).toMatchObject({ value: { balance: 0n } });
    expect(await f.ledger.balanceAt(w, mid)).toMatchObject({ value: { balance: 500n } });
    expect(await f.ledger.balanceAt(w, clock.now())).toMatchObject({ value: { balance: 380n } });
  });

  it('refuses to close an account with money in it', async () => {
    const bank = await f.account({ type: 'asset' });
    const w = await f.account({});
    await fund(bank, w, 5n);
    const r = await f.ledger.setAccountStatus({ id: w, status: 'closed' });
    expect(r.ok ? 'ok' : r.code).toBe('account_not_empty');
  });

  it('answers a full-post retry of a partial post with exists_with_different_amount', async () => {
    const card = await f.account({ debitsMustNotExceedCredits: true });
    const bank = await f.account({ type: 'asset' });
    const shop = await f.account({});
    await fund(bank, card, 100n);
    const hold = await f.ledger.transfer({ idempotencyKey: key(), kind: 'pending', debitAccountId: card, creditAccountId: shop, amount: 100n, currency: 'CNY' });
    if (!hold.ok) throw new Error(hold.code);
    const partial = await f.ledger.transfer({ idempotencyKey: 'post-partial', kind: 'post_pending', pendingId: hold.value.transfer.id, amount: 30n });
    expect(partial.ok).toBe(true);
    const full = await f.ledger.transfer({ idempotencyKey: 'post-partial', kind: 'post_pending', pendingId: hold.value.transfer.id });
    expect(full.ok ? 'ok' : full.code).toBe('exists_with_different_amount');
    const same = await f.ledger.transfer({ idempotencyKey: 'post-partial', kind: 'post_pending', pendingId: hold.value.transfer.id, amount: 30n });
    expect(same.ok && same.value.existed).toBe(true);
  });

  it('refuses totals beyond 2^53 - 1 so every balance stays exact in JSON', async () => {
    const bank = await f.account({ type: 'asset' });
    const big = await f.account({});
    const max = 9007199254740991n;
    expect((await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: bank, creditAccountId: big, amount: max, currency: 'CNY' })).ok).toBe(true);
    const over = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: bank, creditAccountId: big, amount: 1n, currency: 'CNY' });
    expect(over.ok ? 'ok' : over.code).toBe('overflows_debits');
    const other = await f.account({ type: 'asset' });
    const over2 = await f.ledger.transfer({ idempotencyKey: key(), debitAccountId: other, creditAccountId: big, amount: 1n, currency: 'CNY' });
    expect(over2.ok ? 'ok' : over2.code).toBe('overflows_credits');
  });

  it('refuses text PostgreSQL cannot store before it reaches a batch', async () => {
    const bank = await f.account({ type: 'asset' });
    const w = await f.account({});
    const r = await f.ledger.createTransfers([
      { idempotencyKey: key(), debitAccountId: bank, creditAccountId: w, amount: 1n, currency: 'CNY', description: 'a\u0000b' },
      { idempotencyKey: key(), debitAccountId: bank, creditAccountId: w, amount: 1n, currency: 'CNY', metadata: { note: '\ud800' } },
      { idempotencyKey: key(), debitAccountId: bank, creditAccountId: w, amount: 1n, currency: 'CNY' },
    ]);
    expect(r.ok && r.value.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['invalid_transfer', 'invalid_transfer', 'ok']);
  });

  it('commits a caller\'s own writes and its transfers together, or neither, and re-runs the callback on a key race', async () => {
    const bank = await f.account({ type: 'asset' });
    const wallet = await f.account({ debitsMustNotExceedCredits: true });
    const post = (k: string) => ({ idempotencyKey: k, debitAccountId: bank, creditAccountId: wallet, amount: 10n, currency: 'CNY' });
    // A failure after the transfer was applied rolls the transfer back with the caller's writes.
    await expect(f.ledger.transaction(async (tx) => {
      const r = await tx.createTransfers([post('tx-rolled-back')]);
      expect(r.ok && r.value[0]!.ok).toBe(true);
      throw new Error('caller failed');
    })).rejects.toThrow('caller failed');
    expect((await f.ledger.getTransferByKey('tx-rolled-back')).ok).toBe(false);
    // A key stored earlier makes the first run roll back; the callback runs again and sees it as existing.
    await fund(bank, wallet, 1n);
    expect((await f.ledger.transfer(post('tx-existing'))).ok).toBe(true);
    let runs = 0;
    const out = await f.ledger.transaction(async (tx) => {
      runs++;
      const r = await tx.createTransfers([post('tx-existing'), post('tx-new')]);
      if (!r.ok) throw new Error(r.code);
      return r.value.map((o) => (o.ok ? o.existed : o.code));
    });
    expect(out).toEqual([true, false]);
    expect(runs).toBe(2);
    const w = await f.ledger.getAccount(wallet);
    expect(w.ok && w.value.creditsPosted).toBe(21n);
  });

  it('keeps every invariant after all of the above', async () => {
    const v = await f.ledger.verify();
    expect(v.violations).toEqual([]);
    expect(v.checks.length).toBeGreaterThanOrEqual(8);
  });
});
