/**
 * 64-bit time-ordered ids (发号器), generated in-process.
 *
 * Bit layout, most significant first (the top bit stays 0 so ids fit PostgreSQL's signed bigint):
 *
 *   | 1 bit: 0 | 40 bits: milliseconds since 2025-01-01T00:00:00Z | 10 bits: worker id | 13 bits: sequence |
 *
 * - 40 bits of milliseconds last 2^40 ms = 34.8 years, until 2059-11-04.
 * - 10 bits of worker id: 1024 concurrently live generators, each holding a lease (worker-lease.ts).
 * - 13 bits of sequence: 8192 ids per millisecond per worker (8.19 million per second).
 *
 * Never a duplicate: within one worker, (ms, sequence) strictly increases. When a millisecond's
 * sequence runs out we wait for the next millisecond. When the clock goes backwards by at most
 * `maxBackwardMs` we wait for it to catch up; a larger jump is refused with `ClockMovedBackwardsError`
 * rather than risk reissuing ids. Across workers, the worker bits differ.
 */
export const ID_EPOCH_MS = Date.UTC(2025, 0, 1);
export const TIME_BITS = 40;
export const WORKER_BITS = 10;
export const SEQUENCE_BITS = 13;
export const MAX_WORKER_ID = (1 << WORKER_BITS) - 1;
export const MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1;
const MAX_TIME = 2 ** TIME_BITS - 1;
const WORKER_SHIFT = BigInt(SEQUENCE_BITS);
const TIME_SHIFT = BigInt(SEQUENCE_BITS + WORKER_BITS);

export class ClockMovedBackwardsError extends Error {
  constructor(readonly backwardMs: number) {
    super(`the clock moved backwards by ${backwardMs} ms; refusing to issue ids that could repeat`);
    this.name = 'ClockMovedBackwardsError';
  }
}

export class WorkerLeaseLostError extends Error {
  constructor(workerId: number) {
    super(`worker id ${workerId} lease is no longer held; refusing to issue ids`);
    this.name = 'WorkerLeaseLostError';
  }
}

export interface IdGeneratorOptions {
  workerId: number;
  /** Wall clock in ms; injectable for tests. */
  now?: () => number;
  /** Backward jumps up to this size are waited out; larger ones throw. */
  maxBackwardMs?: number;
  /** Ids are issued only for milliseconds strictly after this (the previous lease holder's end). */
  notBeforeMs?: number;
  /** Returns false once the worker lease is lost; checked when the millisecond changes. */
  leaseValid?: (nowMs: number) => boolean;
}

export class IdGenerator {
  readonly workerId: number;
  private readonly now: () => number;
  private readonly maxBackwardMs: number;
  private readonly leaseValid: (nowMs: number) => boolean;
  private lastMs: number;
  // Starting "full" makes a first reading equal to notBeforeMs wait for the next millisecond
  // instead of handing out an id from the (unset) base.
  private seq = MAX_SEQUENCE;
  private base = 0n;

  constructor(opts: IdGeneratorOptions) {
    if (!Number.isInteger(opts.workerId) || opts.workerId < 0 || opts.workerId > MAX_WORKER_ID) {
      throw new Error(`worker id must be in [0, ${MAX_WORKER_ID}]`);
    }
    this.workerId = opts.workerId;
    this.now = opts.now ?? Date.now;
    this.maxBackwardMs = opts.maxBackwardMs ?? 20;
    this.leaseValid = opts.leaseValid ?? (() => true);
    this.lastMs = opts.notBeforeMs ?? -1;
  }

  /** The next id. Synchronous: may spin for at most `maxBackwardMs` or until the next millisecond. */
  next(): bigint {
    let ms = this.now();
    if (ms === this.lastMs) {
      if (this.seq < MAX_SEQUENCE) {
        this.seq++;
        return this.base + BigInt(this.seq);
      }
      // This millisecond's sequence is used up: wait for the next one.
      while (ms <= this.lastMs) ms = this.now();
    } else if (ms < this.lastMs) {
      const back = this.lastMs - ms;
      if (back > this.maxBackwardMs) throw new ClockMovedBackwardsError(back);
      while (ms <= this.lastMs) ms = this.now();
    }
    return this.startMillisecond(ms);
  }

  private startMillisecond(ms: number): bigint {
    if (!this.leaseValid(ms)) throw new WorkerLeaseLostError(this.workerId);
    const t = ms - ID_EPOCH_MS;
    if (t < 0 || t > MAX_TIME) throw new Error(`clock ${new Date(ms).toISOString()} is outside the id time range`);
    this.lastMs = ms;
    this.seq = 0;
    this.base = (BigInt(t) << TIME_SHIFT) | (BigInt(this.workerId) << WORKER_SHIFT);
    return this.base;
  }
}

export interface DecodedId {
  timestamp: Date;
  workerId: number;
  sequence: number;
}

export function decodeId(id: bigint): DecodedId {
  if (id < 0n || id >= 1n << 63n) throw new Error('not a paycore id');
  return {
    timestamp: new Date(Number(id >> TIME_SHIFT) + ID_EPOCH_MS),
    workerId: Number((id >> WORKER_SHIFT) & BigInt(MAX_WORKER_ID)),
    sequence: Number(id & BigInt(MAX_SEQUENCE)),
  };
}

const PREFIX_RE = /^[A-Z]{1,7}$/;

/**
 * A readable business number (order no., refund no., ...) made from an id:
 * prefix (1-7 capital letters) + UTC yyyyMMddHHmmssSSS + 4-digit worker + 4-digit sequence.
 * At most 7 + 25 = 32 characters (WeChat Pay's limit). It is unique wherever the id is unique,
 * and `parseBusinessNo` recovers the id.
 */
export function businessNo(prefix: string, id: bigint): string {
  if (!PREFIX_RE.test(prefix)) throw new Error('business number prefix must be 1-7 capital letters');
  const d = decodeId(id);
  const ts = d.timestamp.toISOString().replace(/[-:TZ.]/g, '');
  return `${prefix}${ts}${String(d.workerId).padStart(4, '0')}${String(d.sequence).padStart(4, '0')}`;
}

export function parseBusinessNo(no: string): { prefix: string; id: bigint } | undefined {
  const m = /^([A-Z]{1,7})(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})(\d{4})(\d{4})$/.exec(no);
  if (!m) return undefined;
  const ms = Date.UTC(+m[2]!, +m[3]! - 1, +m[4]!, +m[5]!, +m[6]!, +m[7]!, +m[8]!);
  const worker = +m[9]!;
  const seq = +m[10]!;
  if (Number.isNaN(ms) || worker > MAX_WORKER_ID || seq > MAX_SEQUENCE || ms < ID_EPOCH_MS) return undefined;
  const id = (BigInt(ms - ID_EPOCH_MS) << TIME_SHIFT) | (BigInt(worker) << WORKER_SHIFT) | BigInt(seq);
  return businessNo(m[1]!, id) === no ? { prefix: m[1]!, id } : undefined;
}
