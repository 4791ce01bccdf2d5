/**
 * Gathers concurrent transfer requests for a few milliseconds (or until a batch is full) and
 * applies them in one database transaction. Each request keeps its own outcomes: a failed
 * transfer does not fail its batch neighbours. Several batches may be in flight at once; they
 * serialise in the database only where they share accounts.
 */
import { isRetryableTxError, type Pool } from '../../kernel/db.js';
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
    try {
      await c.query('BEGIN; SET LOCAL synchronous_commit TO off');
      let out: TransferOutcome[];
      try {
        out = await applyTransferBatch(c, inputs, this.deps, lookupKeys);
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
      // One round trip: commit (locks released), then wait for the WAL flush. If the COMMIT
      // fails, PostgreSQL stops there and the error surfaces; the outcome is then unknown to the
      // callers, who retry with the same idempotency keys.
      await c.query(
        `COMMIT; BEGIN; SET LOCAL synchronous_commit TO on;
         INSERT INTO ledger_wal_flush (backend_pid, n) VALUES (pg_backend_pid(), 1)
         ON CONFLICT (backend_pid) DO UPDATE SET n = ledger_wal_flush.n + 1; COMMIT`,
      );
      return out;
    } finally {
      c.release();
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
        this.log?.error({ err: (e as Error).message, transfers: inputs.length }, 'ledger batch failed');
        for (const p of batch) p.reject(e);
        return;
      }
    }
  }
}
