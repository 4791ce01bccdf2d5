/**
 * The pure heart of the ledger: apply a batch of validated transfer inputs to in-memory account
 * and pending-transfer state, in order, with linked chains all-or-nothing. No I/O, no clock reads:
 * the store loads the state (under row locks), calls this, and writes back what it returns.
 */
import { MAX_AMOUNT_MINOR } from '../../../kernel/money.js';
import type { TransferErrorCode } from '../errors.js';
import { postedBalance, type AccountBalanceState, type Transfer, type TransferInput } from './types.js';

export type TransferOutcome =
  | { ok: true; transfer: Transfer; existed: boolean }
  | { ok: false; code: TransferErrorCode; message: string };

export interface ApplyContext {
  /** Current state of every account the batch may touch, keyed by id. Mutated in place. */
  accounts: Map<bigint, AccountBalanceState>;
  /** Transfers referenced by pending_id or reverses_id, keyed by id. Mutated in place. */
  referenced: Map<bigint, Transfer>;
  /** Transfers already stored under the batch's idempotency keys. */
  existing: Map<string, Transfer>;
  now: Date;
  nextId: () => bigint;
}

export interface ApplyResult {
  outcomes: TransferOutcome[];
  /** New transfers in application order. */
  created: Transfer[];
  /** Ids of accounts whose balances changed. */
  touchedAccounts: Set<bigint>;
  /** Referenced transfers whose pending status or reversed amount changed. */
  touchedTransfers: Set<bigint>;
}

type Check = { rejected: true; code: TransferErrorCode; message: string };
const reject = (code: TransferErrorCode, message: string): Check => ({ rejected: true, code, message });

/** Applies `inputs` in order; a linked chain (inputs with `linked` up to the first without) is atomic. */
export function applyBatch(inputs: readonly TransferInput[], ctx: ApplyContext): ApplyResult {
  const result: ApplyResult = { outcomes: new Array(inputs.length), created: [], touchedAccounts: new Set(), touchedTransfers: new Set() };
  const batchKeys = new Map<string, Transfer>();
  let i = 0;
  while (i < inputs.length) {
    let end = i;
    while (end < inputs.length - 1 && inputs[end]!.linked) end++;
    if (end === i) {
      const out = applyOne(inputs[i]!, ctx, batchKeys, result, null);
      result.outcomes[i] = out;
    } else {
      applyChain(inputs, i, end, ctx, batchKeys, result);
    }
    i = end + 1;
  }
  return result;
}

function applyChain(inputs: readonly TransferInput[], from: number, to: number, ctx: ApplyContext, batchKeys: Map<string, Transfer>, result: ApplyResult): void {
  // Snapshot everything a chain member may change so a failure can put it back.
  const accountSnap = new Map<bigint, AccountBalanceState>();
  const transferSnap = new Map<bigint, Transfer>();
  const keysBefore = new Set(batchKeys.keys());
  const createdBefore = result.created.length;
  const touchedA = new Set(result.touchedAccounts);
  const touchedT = new Set(result.touchedTransfers);
  for (let k = from; k <= to; k++) {
    const inp = inputs[k]!;
    for (const id of [inp.debitAccountId, inp.creditAccountId]) {
      if (id !== undefined && ctx.accounts.has(id) && !accountSnap.has(id)) accountSnap.set(id, { ...ctx.accounts.get(id)! });
    }
    for (const id of [inp.pendingId, inp.reversesId]) {
      const t = id === undefined ? undefined : ctx.referenced.get(id);
      if (t && !transferSnap.has(t.id)) {
        transferSnap.set(t.id, { ...t });
        for (const aid of [t.debitAccountId, t.creditAccountId]) {
          if (ctx.accounts.has(aid) && !accountSnap.has(aid)) accountSnap.set(aid, { ...ctx.accounts.get(aid)! });
        }
      }
    }
  }
  // A chain id names the chain by its first member's id; assigned once the first succeeds.
  let chainId: bigint | null = null;
  let failedAt = -1;
  let failure: TransferOutcome | undefined;
  for (let k = from; k <= to; k++) {
    const out = applyOne(inputs[k]!, ctx, batchKeys, result, chainId);
    result.outcomes[k] = out;
    if (!out.ok) {
      failedAt = k;
      failure = out;
      break;
    }
    if (chainId === null) chainId = out.transfer.chainId ?? out.transfer.id;
  }
  if (failedAt < 0) return;
  // Restore in place: the same objects may also sit in `created` (a pending transfer made earlier
  // in this batch) and must not keep the chain's changes.
  for (const [id, snap] of accountSnap) Object.assign(ctx.accounts.get(id)!, snap);
  for (const [id, snap] of transferSnap) Object.assign(ctx.referenced.get(id)!, snap);
  for (const key of [...batchKeys.keys()]) if (!keysBefore.has(key)) batchKeys.delete(key);
  result.created.length = createdBefore;
  result.touchedAccounts = touchedA;
  result.touchedTransfers = touchedT;
  for (let k = from; k <= to; k++) {
    if (k === failedAt) continue;
    result.outcomes[k] = {
      ok: false,
      code: 'linked_event_failed',
      message: `linked transfer ${failedAt - from + 1} of the chain failed (${failure && !failure.ok ? failure.code : 'unknown'})`,
    };
  }
}

function applyOne(inp: TransferInput, ctx: ApplyContext, batchKeys: Map<string, Transfer>, result: ApplyResult, chainId: bigint | null): TransferOutcome {
  const prior = batchKeys.get(inp.idempotencyKey) ?? ctx.existing.get(inp.idempotencyKey);
  if (prior) {
    const diff = compareWithExisting(inp, prior, ctx);
    return diff ? { ok: false, code: diff.code, message: diff.message } : { ok: true, transfer: prior, existed: true };
  }
  const r = inp.kind === 'posted' || inp.kind === 'pending' ? applyNew(inp, ctx, chainId, result) : applyResolution(inp, ctx, chainId, result);
  if ('rejected' in r) return { ok: false, code: r.code, message: r.message };
  batchKeys.set(inp.idempotencyKey, r);
  result.created.push(r);
  result.touchedAccounts.add(r.debitAccountId);
  result.touchedAccounts.add(r.creditAccountId);
  return { ok: true, transfer: r, existed: false };
}

/** The first field in which a retry differs from the stored transfer, or undefined if it is the same request. */
function compareWithExisting(inp: TransferInput, t: Transfer, ctx: ApplyContext): Check | undefined {
  const differs = (field: string): Check =>
    reject(`exists_with_different_${field}` as TransferErrorCode, `idempotency key ${inp.idempotencyKey} was used for a transfer with a different ${field.replace(/_/g, ' ')}`);
  if (inp.kind !== t.kind) return differs('kind');
  if (inp.debitAccountId !== undefined && inp.debitAccountId !== t.debitAccountId) return differs('debit_account_id');
  if (inp.creditAccountId !== undefined && inp.creditAccountId !== t.creditAccountId) return differs('credit_account_id');
  // A post without an amount means "the whole hold", so a retry without one must match a full post.
  const amount = inp.amount ?? (inp.kind === 'post_pending' && t.pendingId !== null ? ctx.referenced.get(t.pendingId)?.amount : undefined);
  if (amount !== undefined && amount !== t.amount) return differs('amount');
  if (inp.currency !== undefined && inp.currency !== t.currency) return differs('currency');
  if ((inp.pendingId ?? null) !== t.pendingId) return differs('pending_id');
  if (inp.code !== t.code) return differs('code');
  if (inp.kind === 'pending') {
    const expected = inp.timeoutSeconds ? t.createdAt.getTime() + inp.timeoutSeconds * 1000 : null;
    // The timeout is stored as an instant; a retry names it in seconds from the original creation.
    if ((expected ?? null) !== (t.timeoutAt?.getTime() ?? null)) return differs('timeout');
  }
  if ((inp.reversesId ?? null) !== t.reversesId) return differs('reverses_id');
  return undefined;
}

function checkAccounts(debit: AccountBalanceState | undefined, credit: AccountBalanceState | undefined, currency: string, forDebit: boolean, forCredit: boolean): Check | undefined {
  if (!debit) return reject('debit_account_not_found', 'the debit account does not exist');
  if (!credit) return reject('credit_account_not_found', 'the credit account does not exist');
  if (debit.currency !== currency || credit.currency !== currency) {
    return reject('currency_mismatch', `transfer currency ${currency} differs from the accounts' (${debit.currency} / ${credit.currency})`);
  }
  if (debit.status === 'closed') return reject('debit_account_closed', 'the debit account is closed');
  if (credit.status === 'closed') return reject('credit_account_closed', 'the credit account is closed');
  if (forDebit && (debit.status === 'frozen' || debit.status === 'debit_frozen')) return reject('debit_account_frozen', 'the debit account is frozen for debits');
  if (forCredit && (credit.status === 'frozen' || credit.status === 'credit_frozen')) return reject('credit_account_frozen', 'the credit account is frozen for credits');
  return undefined;
}

/**
 * Every balance figure must stay within the range a JSON number carries exactly (2^53 - 1 minor
 * units), so that no answer about an account can ever be wrong or fail after the money moved.
 */
const MAX_TOTAL = MAX_AMOUNT_MINOR;

function checkLimits(debit: AccountBalanceState, credit: AccountBalanceState, amount: bigint): Check | undefined {
  if (debit.debitsPosted + debit.debitsPending + amount > MAX_TOTAL) return reject('overflows_debits', 'the debit account has reached the largest total the ledger keeps; roll it over to a new account');
  if (credit.creditsPosted + credit.creditsPending + amount > MAX_TOTAL) return reject('overflows_credits', 'the credit account has reached the largest total the ledger keeps; roll it over to a new account');
  if (debit.debitsMustNotExceedCredits && debit.debitsPending + debit.debitsPosted + amount > debit.creditsPosted + debit.creditLimit) {
    return debit.creditLimit > 0n
      ? reject('exceeds_credit_limit', 'the debit would exceed the account balance plus its credit limit')
      : reject('insufficient_funds', 'the debit account has insufficient available funds');
  }
  if (credit.creditsMustNotExceedDebits && credit.creditsPending + credit.creditsPosted + amount > credit.debitsPosted + credit.creditLimit) {
    return reject('exceeds_debits', 'the credit would exceed the debits of the credit account (plus its limit)');
  }
  return undefined;
}

function newTransfer(inp: TransferInput, ctx: ApplyContext, fields: Pick<Transfer, 'kind' | 'debitAccountId' | 'creditAccountId' | 'amount' | 'currency'> & Partial<Transfer>, chainId: bigint | null): Transfer {
  const id = ctx.nextId();
  const debit = ctx.accounts.get(fields.debitAccountId)!;
  const credit = ctx.accounts.get(fields.creditAccountId)!;
  return {
    id,
    idempotencyKey: inp.idempotencyKey,
    code: inp.code,
    description: inp.description,
    metadata: inp.metadata,
    pendingId: null,
    pendingStatus: null,
    postedAmount: null,
    timeoutAt: null,
    reversesId: null,
    reversedAmount: 0n,
    chainId: inp.linked || chainId !== null ? (chainId ?? id) : null,
    createdAt: ctx.now,
    ...fields,
    debitBalanceAfter: postedBalance(debit),
    creditBalanceAfter: postedBalance(credit),
  };
}

function applyNew(inp: TransferInput, ctx: ApplyContext, chainId: bigint | null, result: ApplyResult): Transfer | Check {
  const debit = ctx.accounts.get(inp.debitAccountId!);
  const credit = ctx.accounts.get(inp.creditAccountId!);
  const amount = inp.amount!;
  const currency = inp.currency!;
  const acc = checkAccounts(debit, credit, currency, true, true);
  if (acc) return acc;
  let reversed: Transfer | undefined;
  if (inp.reversesId !== undefined) {
    reversed = ctx.referenced.get(inp.reversesId);
    if (!reversed || (reversed.kind !== 'posted' && reversed.kind !== 'post_pending')) {
      return reject('reversed_transfer_not_found', 'the transfer to reverse does not exist or moved no posted money');
    }
    if (reversed.debitAccountId !== inp.creditAccountId || reversed.creditAccountId !== inp.debitAccountId || reversed.currency !== currency) {
      return reject('reversal_accounts_mismatch', 'a reversal must credit the original debit account and debit the original credit account');
    }
    if (inp.kind !== 'posted') return reject('reversal_accounts_mismatch', 'a reversal must be a posted transfer');
    if (reversed.reversedAmount + amount > reversed.amount) {
      return reject('exceeds_reversible_amount', `only ${reversed.amount - reversed.reversedAmount} of the original transfer is left to reverse`);
    }
  }
  const lim = checkLimits(debit!, credit!, amount);
  if (lim) return lim;
  if (inp.kind === 'posted') {
    debit!.debitsPosted += amount;
    credit!.creditsPosted += amount;
  } else {
    debit!.debitsPending += amount;
    credit!.creditsPending += amount;
  }
  if (reversed) {
    reversed.reversedAmount += amount;
    result.touchedTransfers.add(reversed.id);
  }
  const t = newTransfer(
    inp,
    ctx,
    {
      kind: inp.kind,
      debitAccountId: debit!.id,
      creditAccountId: credit!.id,
      amount,
      currency,
      reversesId: inp.reversesId ?? null,
      pendingStatus: inp.kind === 'pending' ? 'pending' : null,
      postedAmount: inp.kind === 'pending' ? 0n : null,
      timeoutAt: inp.kind === 'pending' && inp.timeoutSeconds ? new Date(ctx.now.getTime() + inp.timeoutSeconds * 1000) : null,
    },
    chainId,
  );
  if (inp.kind === 'pending') ctx.referenced.set(t.id, t);
  return t;
}

function applyResolution(inp: TransferInput, ctx: ApplyContext, chainId: bigint | null, result: ApplyResult): Transfer | Check {
  const p = ctx.referenced.get(inp.pendingId!);
  if (!p) return reject('pending_transfer_not_found', 'the pending transfer does not exist');
  if (p.kind !== 'pending') return reject('pending_transfer_not_pending', 'the referenced transfer is not a pending transfer');
  switch (p.pendingStatus) {
    case 'posted':
      return reject('pending_transfer_already_posted', 'the pending transfer was already posted');
    case 'voided':
      return reject('pending_transfer_already_voided', 'the pending transfer was already voided');
    case 'expired':
      return reject('pending_transfer_expired', 'the pending transfer expired');
    case 'pending':
    case null:
      break;
  }
  if (inp.kind !== 'expire_pending' && p.timeoutAt && p.timeoutAt.getTime() <= ctx.now.getTime()) {
    return reject('pending_transfer_expired', 'the pending transfer timed out');
  }
  if (inp.kind === 'expire_pending' && (!p.timeoutAt || p.timeoutAt.getTime() > ctx.now.getTime())) {
    return reject('pending_transfer_not_pending', 'the pending transfer has not timed out');
  }
  if (inp.debitAccountId !== undefined && inp.debitAccountId !== p.debitAccountId) return reject('pending_transfer_has_different_debit_account_id', 'the debit account differs from the pending transfer');
  if (inp.creditAccountId !== undefined && inp.creditAccountId !== p.creditAccountId) return reject('pending_transfer_has_different_credit_account_id', 'the credit account differs from the pending transfer');
  if (inp.currency !== undefined && inp.currency !== p.currency) return reject('pending_transfer_has_different_currency', 'the currency differs from the pending transfer');
  const posting = inp.kind === 'post_pending';
  const amount = posting ? (inp.amount ?? p.amount) : p.amount;
  if (posting && amount > p.amount) return reject('exceeds_pending_transfer_amount', `at most ${p.amount} can be posted`);
  if (!posting && inp.amount !== undefined && inp.amount !== p.amount) return reject('pending_transfer_has_different_amount', 'a void releases the whole pending amount');
  const debit = ctx.accounts.get(p.debitAccountId);
  const credit = ctx.accounts.get(p.creditAccountId);
  // Releasing a hold is always allowed (it only gives money back); posting one moves money and
  // so respects freezes like any new transfer.
  const acc = checkAccounts(debit, credit, p.currency, posting, posting);
  if (acc && (posting || acc.code === 'debit_account_not_found' || acc.code === 'credit_account_not_found')) return acc;
  debit!.debitsPending -= p.amount;
  credit!.creditsPending -= p.amount;
  if (posting) {
    debit!.debitsPosted += amount;
    credit!.creditsPosted += amount;
  }
  p.pendingStatus = posting ? 'posted' : inp.kind === 'void_pending' ? 'voided' : 'expired';
  p.postedAmount = posting ? amount : 0n;
  result.touchedTransfers.add(p.id);
  return newTransfer(inp, ctx, { kind: inp.kind, debitAccountId: p.debitAccountId, creditAccountId: p.creditAccountId, amount, currency: p.currency, pendingId: p.id }, chainId);
}
