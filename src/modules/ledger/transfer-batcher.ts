/**
 * Gathers concurrent transfer requests for a few milliseconds (or until a batch is full) and
 * applies them in one database transaction. Each request keeps its own outcomes: a failed
 * transfer does not fail its batch neighbours. Several batches may be in flight at once; they
 * serialise in the database only where they share accounts.
 */
import { isConnectionError, isRetryableTxError, type Pool, type PoolClient } from '../../kernel/db.js';
import type { Logger } from '../../kernel/logger.js';
import type { TransferOutcome } from './domain/apply.js';
import type { TransferInput } from './domain/types.js';
import { applyTransferBatch, IdempotencyRace, type BatchDeps } from './ledger.store.js';

export interface BatcherOptions {
  windowMs: number;
  maxBatch: number;
  maxInFlight: number;
  maxAttempts?: number;
}

interface Pending {
  inputs: readonly TransferInput[];
  resolve: (o: TransferOutcome[]) => void;
  reject: (e: unknown) => void;
}

export interface BatcherStats {
  batches: number;
  transfers: number;
  retries: number;
}

/**
 * Commits the open transaction on `c`, which runs with synchronous_commit off (its locks are
 * released at once), then waits until the WAL is durable up to that commit: a tiny transaction
 * that writes a row commits synchronously after it (see applyDurably). One round trip.
 */
export async function commitDurably(c: PoolClient): Promise<void> {
  await c.query(
    `COMMIT; BEGIN; SET LOCAL synchronous_commit TO on;
     INSERT INTO ledger_wal_flush (backend_pid, n) VALUES (pg_backend_pid(), 1)
     ON CONFLICT (backend_pid) DO UPDATE SET n = ledger_wal_flush.n + 1; COMMIT`,
  );
}

export class TransferBatcher {
  private queue: Pending[] = [];
  private queued = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idle: (() => void)[] = [];
  readonly stats: BatcherStats = { batches: 0, transfers: 0, retries: 0 };

  constructor(
    private readonly pool: Pool,
    private readonly deps: BatchDeps,
    private readonly opts: BatcherOptions,
    private readonly log?: Logger,
  ) {}

  submit(inputs: readonly TransferInput[]): Promise<TransferOutcome[]> {
    if (this.closed) return Promise.reject(new Error('the ledger is shutting down'));
    if (inputs.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs, resolve, reject });
      this.queued += inputs.length;
      if (this.queued >= this.opts.maxBatch || this.opts.windowMs === 0) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.windowMs);
    });
  }

  /** Resolves once every submitted request has been answered; later submits are refused. */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch: Pending[] = [];
      let n = 0;
      // A request larger than maxBatch still goes through whole, as a batch of its own.
      while (this.queue.length > 0 && (batch.length === 0 || n + this.queue[0]!.inputs.length <= this.opts.maxBatch)) {
        const p = this.queue.shift()!;
        n += p.inputs.length;
        batch.push(p);
      }
      this.queued -= n;
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.flush();
        else if (this.inFlight === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  /**
   * Runs one batch transaction with early lock release. The batch commits with
   * synchronous_commit off, so its row locks are released as soon as the commit record is in the
   * WAL buffer and the next batch can start on the same accounts while this one's WAL is being
   * flushed to disk. Nobody is answered before that flush: a second, tiny transaction that
   * writes a row and commits synchronously waits until the WAL is durable up to its own commit
   * record, which lies after this batch's. (It must write something: PostgreSQL does not flush
   * at the commit of a transaction that wrote no WAL, even with an xid assigned.) If PostgreSQL crashes in between, WAL is lost only as a suffix, so every
   * batch that could be lost was never acknowledged — and neither was any batch that saw its
   * effects (an "existed" answer included), because those commit later still.
   */
  private async applyDurably(inputs: readonly TransferInput[], lookupKeys: boolean): Promise<TransferOutcome[]> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN; SET LOCAL synchronous_commit TO off');
      const out = await applyTransferBatch(c, inputs, this.deps, lookupKeys);
      // One round trip: commit (locks released), then wait for the WAL flush. If any statement
      // fails, PostgreSQL skips the rest and the error surfaces; the callers' outcome is then
      // unknown and they retry with the same idempotency keys.
      await commitDurably(c);
      return out;
    } catch (e) {
      // Leave no transaction open on a pooled connection; if even ROLLBACK fails, the
      // connection is discarded rather than handed to the next caller in an unknown state.
      await c.query('ROLLBACK').catch((re: unknown) => {
        broken = re instanceof Error ? re : new Error(String(re));
      });
      throw e;
    } finally {
      c.release(broken);
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    const inputs = batch.flatMap((p) => p.inputs);
    const maxAttempts = this.opts.maxAttempts ?? 10;
    // Keys are assumed new until the database says otherwise (see applyTransferBatch).
    let lookupKeys = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcomes = await this.applyDurably(inputs, lookupKeys);
        this.stats.batches++;
        this.stats.transfers += inputs.length;
        let at = 0;
        for (const p of batch) {
          p.resolve(outcomes.slice(at, at + p.inputs.length));
          at += p.inputs.length;
        }
        return;
      } catch (e) {
        // A concurrent writer stored one of our keys, or PostgreSQL broke a lock cycle: nothing of
        // this attempt was committed, so running the whole batch again is safe.
        if (e instanceof IdempotencyRace) lookupKeys = true;
        if ((e instanceof IdempotencyRace || isRetryableTxError(e)) && attempt < maxAttempts) {
          this.stats.retries++;
          this.log?.debug({ attempt, err: (e as Error).message }, 'ledger batch retried');
          continue;
        }
        if (batch.length > 1 && !isConnectionError(e)) {
          // One request's data may have broken the whole statement (something PostgreSQL refuses
          // that validation did not catch). Nothing was committed, so run each request on its own:
          // only the culprit fails, its neighbours go through.
          this.log?.warn({ err: (e as Error).message, requests: batch.length }, 'ledger batch failed; retrying its requests one by one');
          for (const p of batch) await this.run([p]);
          return;
        }
        this.log?.error({ err: (e as Error).message, transfers: inputs.length }, 'ledger batch failed');
        for (const p of batch) p.reject(e);
        return;
      }
    }
  }
}
