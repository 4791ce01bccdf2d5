/**
 * The ledger module's whole public surface (DESIGN.md §3): accounts, transfers (single, linked,
 * pending/post/void, expiry, reversals), history, invariants, and the accounting side.
 * Expected failures come back as values; only programmer errors throw.
 */
import type { Clock } from '../../kernel/clock.js';
import { isRetryableTxError, withTx, type Pool, type PoolClient } from '../../kernel/db.js';
import { fail, ok, type Result } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { checkCurrency, MAX_AMOUNT_MINOR } from '../../kernel/money.js';
import type { TransferOutcome } from './domain/apply.js';
import { ACCOUNT_STATUSES, ACCOUNT_TYPES, availableBalance, postedBalance, type Account, type AccountStatus, type AccountType, type Transfer, type TransferInput } from './domain/types.js';
import { SYSTEM_KEY_PREFIX, validateRequest, type TransferRequest } from './domain/validate.js';
import type { LedgerErrorCode } from './errors.js';
import * as history from './history.store.js';
import * as store from './ledger.store.js';
import { applyTransferBatch, IdempotencyRace, type BatchDeps } from './ledger.store.js';
import { commitDurably, TransferBatcher, type BatcherOptions } from './transfer-batcher.js';

export type { Account, AccountStatus, AccountType, Transfer, TransferOutcome, TransferRequest };
export { availableBalance, postedBalance };
export type { StatementEntry } from './history.store.js';

export interface LedgerDeps {
  pool: Pool;
  clock: Clock;
  nextId: () => bigint;
  log?: Logger;
  batch?: Partial<BatcherOptions>;
}

export interface CreateAccountInput {
  type: AccountType;
  currency: string;
  subjectCode: string;
  ref?: string;
  ownerId?: bigint;
  name?: string;
  /** No overdraft: debits (posted + pending) may not exceed credits plus the credit limit. */
  debitsMustNotExceedCredits?: boolean;
  /** Mirror image, for accounts that must not be credited beyond their debits. */
  creditsMustNotExceedDebits?: boolean;
  creditLimit?: bigint;
  metadata?: Record<string, unknown>;
}

export type LedgerResult<T> = Result<T, LedgerErrorCode>;

/** What `Ledger.transaction` hands its callback. */
export interface LedgerTx {
  client: PoolClient;
  createTransfers(reqs: readonly TransferRequest[]): Promise<LedgerResult<TransferOutcome[]>>;
  /** Reads accounts on the transaction's own connection (never a second pool connection: see transaction). */
  getAccounts(ids: readonly bigint[]): Promise<Account[]>;
}

export const MAX_TRANSFERS_PER_REQUEST = 8000;
const REF_RE = /^[\x21-\x7e]{1,128}$/;

export class Ledger {
  private readonly batcher: TransferBatcher;
  private readonly batchDeps: BatchDeps;
  private readonly pool: Pool;
  private readonly clock: Clock;
  private readonly nextId: () => bigint;
  private readonly log: Logger | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(deps: LedgerDeps) {
    this.pool = deps.pool;
    this.clock = deps.clock;
    this.nextId = deps.nextId;
    this.log = deps.log;
    this.batchDeps = { nextId: deps.nextId, now: () => deps.clock.now() };
    this.batcher = new TransferBatcher(
      deps.pool,
      this.batchDeps,
      { windowMs: 1, maxBatch: MAX_TRANSFERS_PER_REQUEST, maxInFlight: 2, ...deps.batch },
      deps.log,
    );
  }

  get batchStats(): TransferBatcher['stats'] {
    return this.batcher.stats;
  }

  // ---- accounts ----------------------------------------------------------------------------

  async createAccount(inp: CreateAccountInput): Promise<LedgerResult<{ account: Account; created: boolean }>> {
    if (!ACCOUNT_TYPES.includes(inp.type)) return fail('invalid_account', `type must be one of ${ACCOUNT_TYPES.join(', ')}`);
    if (!checkCurrency(inp.currency).ok) return fail('unknown_currency', `unknown currency ${inp.currency}`);
    if (inp.ref !== undefined && !REF_RE.test(inp.ref)) return fail('invalid_account', 'ref must be 1-128 printable ASCII characters without spaces');
    if ((inp.name ?? '').length > 200) return fail('invalid_account', 'name is longer than 200 characters');
    const dLimit = inp.debitsMustNotExceedCredits === true;
    const cLimit = inp.creditsMustNotExceedDebits === true;
    if (dLimit && cLimit) return fail('invalid_limit', 'an account is limited on at most one side');
    const creditLimit = inp.creditLimit ?? 0n;
    if (creditLimit < 0n || creditLimit > MAX_AMOUNT_MINOR) return fail('invalid_limit', 'credit_limit must be between 0 and the safe integer range');
    if (creditLimit > 0n && !dLimit && !cLimit) return fail('invalid_limit', 'a credit limit needs a balance limit flag');
    const subj = await this.pool.query<{ type: string; active: boolean }>('SELECT type, active FROM accounting_subjects WHERE code = $1', [inp.subjectCode]);
    const s = subj.rows[0];
    if (!s || !s.active) return fail('unknown_subject', `accounting subject ${inp.subjectCode} does not exist`);
    if (s.type !== inp.type) return fail('subject_type_mismatch', `subject ${inp.subjectCode} is a ${s.type} subject, not ${inp.type}`);
    // Postings go to the lowest level of the chart (末级科目) only; otherwise rolling sub-subjects
    // up into their parent would count the same money twice.
    const children = await this.pool.query('SELECT 1 FROM accounting_subjects WHERE parent_code = $1 LIMIT 1', [inp.subjectCode]);
    if (children.rowCount) return fail('subject_not_leaf', `subject ${inp.subjectCode} has sub-subjects; use one of them`);
    const row: store.NewAccountRow = {
      id: this.nextId(),
      ref: inp.ref ?? null,
      type: inp.type,
      currency: inp.currency,
      subjectCode: inp.subjectCode,
      ownerId: inp.ownerId ?? null,
      name: inp.name ?? '',
      debitsMustNotExceedCredits: dLimit,
      creditsMustNotExceedDebits: cLimit,
      creditLimit,
      metadata: inp.metadata ?? {},
      now: this.clock.now(),
    };
    const { account, inserted } = await store.insertAccount(this.pool, row);
    if (!inserted) {
      const same =
        account.type === row.type && account.currency === row.currency && account.subjectCode === row.subjectCode &&
        account.ownerId === row.ownerId && account.debitsMustNotExceedCredits === dLimit && account.creditsMustNotExceedDebits === cLimit &&
        account.name === row.name && account.creditLimit === creditLimit;
      if (!same) return fail('account_ref_exists_with_different_fields', `an account with ref ${inp.ref} already exists with different fields`);
    }
    return ok({ account, created: inserted });
  }

  async getAccount(id: bigint): Promise<LedgerResult<Account>> {
    const a = await store.getAccount(this.pool, id);
    return a ? ok(a) : fail('account_not_found', `account ${id} does not exist`);
  }

  /** Several accounts in one query, in the order asked; ids that do not exist are left out. */
  async getAccounts(ids: readonly bigint[]): Promise<Account[]> {
    const rows = await store.getAccounts(this.pool, ids);
    const byId = new Map(rows.map((a) => [a.id, a]));
    return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  }

  async getAccountByRef(ref: string): Promise<LedgerResult<Account>> {
    const a = await store.getAccountByRef(this.pool, ref);
    return a ? ok(a) : fail('account_not_found', `no account with ref ${ref}`);
  }

  listAccounts(f: store.AccountFilter): Promise<Account[]> {
    return store.listAccounts(this.pool, f);
  }

  /**
   * Freezes, unfreezes or closes an account. Runs under the account's row lock, so it is ordered
   * with transfer batches; closing needs a zero balance and no open holds.
   */
  async setAccountStatus(inp: { id: bigint; status: AccountStatus; reason?: string; actor?: string }): Promise<LedgerResult<Account>> {
    if (!ACCOUNT_STATUSES.includes(inp.status)) return fail('invalid_status_transition', `status must be one of ${ACCOUNT_STATUSES.join(', ')}`);
    return withTx(this.pool, async (c) => {
      const a = await store.getAccount(c, inp.id, true);
      if (!a) return fail('account_not_found', `account ${inp.id} does not exist`);
      if (a.status === inp.status) return ok(a);
      if (a.status === 'closed') return fail('invalid_status_transition', 'a closed account cannot be reopened');
      if (inp.status === 'closed' && (a.debitsPosted !== a.creditsPosted || a.debitsPending !== 0n || a.creditsPending !== 0n)) {
        return fail('account_not_empty', 'only an account with a zero balance and no open holds can be closed');
      }
      const now = this.clock.now();
      const updated = await store.updateAccountStatus(c, a.id, inp.status, now);
      await c.query('INSERT INTO account_changes (id, account_id, field, old_value, new_value, reason, actor, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [
        this.nextId(), a.id, 'status', a.status, inp.status, inp.reason ?? '', inp.actor ?? '', now,
      ]);
      return ok(updated);
    });
  }

  async setCreditLimit(inp: { id: bigint; creditLimit: bigint; reason?: string; actor?: string }): Promise<LedgerResult<Account>> {
    if (inp.creditLimit < 0n || inp.creditLimit > MAX_AMOUNT_MINOR) return fail('invalid_limit', 'credit_limit must be between 0 and the safe integer range');
    return withTx(this.pool, async (c) => {
      const a = await store.getAccount(c, inp.id, true);
      if (!a) return fail('account_not_found', `account ${inp.id} does not exist`);
      if (!a.debitsMustNotExceedCredits && !a.creditsMustNotExceedDebits) return fail('invalid_limit', 'the account has no balance limit to extend');
      const usedOver = a.debitsMustNotExceedCredits
        ? a.debitsPending + a.debitsPosted - a.creditsPosted
        : a.creditsPending + a.creditsPosted - a.debitsPosted;
      if (usedOver > inp.creditLimit) return fail('limit_below_current_usage', `the account already uses ${usedOver} of its limit`);
      const now = this.clock.now();
      const updated = await store.updateAccountLimit(c, a.id, inp.creditLimit, now);
      await c.query('INSERT INTO account_changes (id, account_id, field, old_value, new_value, reason, actor, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [
        this.nextId(), a.id, 'credit_limit', a.creditLimit.toString(), inp.creditLimit.toString(), inp.reason ?? '', inp.actor ?? '', now,
      ]);
      return ok(updated);
    });
  }

  async accountChanges(accountId: bigint): Promise<{ field: string; oldValue: string; newValue: string; reason: string; actor: string; createdAt: Date }[]> {
    const r = await this.pool.query('SELECT field, old_value, new_value, reason, actor, created_at FROM account_changes WHERE account_id = $1 ORDER BY id', [accountId]);
    return r.rows.map((x: Record<string, unknown>) => ({
      field: x['field'] as string, oldValue: x['old_value'] as string, newValue: x['new_value'] as string,
      reason: x['reason'] as string, actor: x['actor'] as string, createdAt: x['created_at'] as Date,
    }));
  }

  // ---- transfers ---------------------------------------------------------------------------

  /**
   * Creates transfers. The request is validated first; valid transfers go through the batcher.
   * Returns one outcome per transfer, in order. Throws only when the database is unreachable, in
   * which case the outcome is unknown and the caller retries with the same idempotency keys.
   */
  /** Validates requests: the refusals in place, and the valid inputs with their positions. */
  private validate(reqs: readonly TransferRequest[]): { outcomes: TransferOutcome[]; valid: TransferInput[]; at: number[] } {
    const outcomes: TransferOutcome[] = new Array(reqs.length);
    const valid: TransferInput[] = [];
    const at: number[] = [];
    validateRequest(reqs).forEach((c, i) => {
      if (c.ok) {
        valid.push(c.input);
        at.push(i);
      } else outcomes[i] = { ok: false, code: c.code, message: c.message };
    });
    return { outcomes, valid, at };
  }

  async createTransfers(reqs: readonly TransferRequest[]): Promise<LedgerResult<TransferOutcome[]>> {
    if (reqs.length === 0) return ok([]);
    if (reqs.length > MAX_TRANSFERS_PER_REQUEST) return fail('request_too_large', `at most ${MAX_TRANSFERS_PER_REQUEST} transfers per request`);
    const { outcomes, valid, at } = this.validate(reqs);
    if (valid.length > 0) {
      const res = await this.batcher.submit(valid);
      res.forEach((o, k) => (outcomes[at[k]!] = o));
    }
    return ok(outcomes);
  }

  /**
   * Runs `fn` in one database transaction in which it may write its own records (with `client`)
   * and post transfers (with `createTransfers`, same rules and outcomes as the batched path), so a
   * module's business record and its money movement commit together or not at all — no
   * intent-first protocol and no recovery needed. The commit releases locks early and returns
   * only once durable (as the batcher does). If a transfer's idempotency key was stored
   * concurrently, or PostgreSQL breaks a lock cycle, everything is rolled back and `fn` runs
   * again from the start, so `fn` must do nothing outside the transaction. Keep it short: the
   * accounts it posts to stay locked until the commit. And `fn` must not wait for another pool
   * connection (a module call that queries the pool): with every connection held by a transaction
   * waiting for a second one, the pool deadlocks — read through `tx.client` or load before.
   */
  async transaction<T>(fn: (tx: LedgerTx) => Promise<T>, opts: { maxAttempts?: number } = {}): Promise<T> {
    const maxAttempts = opts.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await c.query('BEGIN; SET LOCAL synchronous_commit TO off');
        const lookupKeys = attempt > 1;
        const tx: LedgerTx = {
          client: c,
          createTransfers: async (reqs) => {
            if (reqs.length > MAX_TRANSFERS_PER_REQUEST) return fail('request_too_large', `at most ${MAX_TRANSFERS_PER_REQUEST} transfers per request`);
            const { outcomes, valid, at } = this.validate(reqs);
            if (valid.length > 0) {
              const res = await applyTransferBatch(c, valid, this.batchDeps, lookupKeys);
              res.forEach((o, k) => (outcomes[at[k]!] = o));
            }
            return ok(outcomes);
          },
          getAccounts: async (ids) => store.getAccounts(c, ids),
        };
        const out = await fn(tx);
        await commitDurably(c);
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch((re: unknown) => {
          broken = re instanceof Error ? re : new Error(String(re));
        });
        if ((e instanceof IdempotencyRace || isRetryableTxError(e)) && attempt < maxAttempts) continue;
        throw e;
      } finally {
        c.release(broken);
      }
    }
  }

  /** One transfer; its rejection comes back as a failed result with the transfer's code. */
  async transfer(req: TransferRequest): Promise<LedgerResult<{ transfer: Transfer; existed: boolean }>> {
    const r = await this.createTransfers([{ ...req, linked: false }]);
    if (!r.ok) return r;
    const o = r.value[0]!;
    return o.ok ? ok({ transfer: o.transfer, existed: o.existed }) : fail(o.code, o.message);
  }

  async getTransfer(id: bigint): Promise<LedgerResult<Transfer>> {
    const t = await store.getTransfer(this.pool, id);
    return t ? ok(t) : fail('transfer_not_found', `transfer ${id} does not exist`);
  }

  async getTransferByKey(key: string): Promise<LedgerResult<Transfer>> {
    const t = await store.getTransferByKey(this.pool, key);
    return t ? ok(t) : fail('transfer_not_found', `no transfer with idempotency key ${key}`);
  }

  findTransfers(f: history.TransferFilter): Promise<Transfer[]> {
    return history.findTransfers(this.pool, f);
  }

  async statement(f: history.StatementFilter): Promise<LedgerResult<history.StatementEntry[]>> {
    const a = await store.getAccount(this.pool, f.accountId);
    if (!a) return fail('account_not_found', `account ${f.accountId} does not exist`);
    return ok(await history.statement(this.pool, f));
  }

  async balanceAt(accountId: bigint, at: Date): Promise<LedgerResult<{ balance: bigint; asOfTransferId: bigint | null }>> {
    const a = await store.getAccount(this.pool, accountId);
    if (!a) return fail('account_not_found', `account ${accountId} does not exist`);
    return ok(await history.balanceAt(this.pool, accountId, at));
  }

  /** Sum of the accounts' posted balances now, or as they stood just before `at`. */
  sumBalances(ids: readonly bigint[], at?: Date): Promise<bigint> {
    return at ? history.sumBalancesAt(this.pool, ids, at) : history.sumBalances(this.pool, ids);
  }

  // ---- housekeeping ------------------------------------------------------------------------

  /** Voids every pending transfer whose timeout has passed. Safe to run from several processes. */
  async expirePendingTransfers(limit = 1000): Promise<number> {
    const ids = await history.expiredPendingIds(this.pool, this.clock.now(), limit);
    if (ids.length === 0) return 0;
    const inputs: TransferInput[] = ids.map((id) => ({
      idempotencyKey: `${SYSTEM_KEY_PREFIX}expire:${id}`, kind: 'expire_pending', pendingId: id, code: 'pending_expired', description: 'hold timed out', metadata: {}, linked: false,
    }));
    const out = await this.batcher.submit(inputs);
    return out.filter((o) => o.ok && !o.existed).length;
  }

  startExpiryWorker(intervalMs = 1000): void {
    if (this.expiryTimer) return;
    const tick = async (): Promise<void> => {
      try {
        while ((await this.expirePendingTransfers()) >= 1000);
      } catch (e) {
        this.log?.warn({ err: (e as Error).message }, 'pending-transfer expiry failed; will retry');
      }
    };
    this.expiryTimer = setInterval(() => void tick(), intervalMs);
    this.expiryTimer.unref();
  }

  verify(): Promise<{ violations: history.Violation[]; checks: string[] }> {
    return history.checkInvariants(this.pool);
  }

  async close(): Promise<void> {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = undefined;
    await this.batcher.close();
  }
}
