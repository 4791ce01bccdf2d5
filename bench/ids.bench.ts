/**
 * Id generator benchmark: how many ids per second one process or several processes issue, and
 * whether any id repeats.
 *
 * - processes = 1: `count` ids from one in-process IdGenerator (worker id leased from the database
 *   when `databaseUrl` is given, else worker 0). Ids from one generator must strictly increase, so
 *   every id that is not greater than the one before counts as a duplicate.
 * - processes = P > 1: P child processes (dist/bench/ids-worker.js) each lease their own worker id,
 *   wait until all are ready, then on a common "go" generate their share of `count` ids. `count` is
 *   the TOTAL across all processes (each child makes count / P, the first few one more when it does
 *   not divide), so runs with different P do the same work and their figures compare directly. Each
 *   child writes its ids as little-endian uint64 to a temp file; the parent merges and sorts them all
 *   and counts ids equal to their sorted neighbour.
 *
 * ids_per_s is total ids / wall time of the generation phase only (from "go" until the last child
 * reports it has generated its share), never including lease acquisition, file writing or merging.
 * Every id is held in a typed array (8 bytes each), so memory stays at 8 bytes per id per process
 * plus 8 bytes per id in the parent for the merge.
 *
 * Run directly: node dist/bench/ids.bench.js --count 10000000 --processes 4 --database-url postgres://...
 * (DATABASE_URL is used when --database-url is absent). It prints one JSON line of figures.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createPool } from '../src/kernel/db.js';
import { IdGenerator } from '../src/kernel/ids.js';
import { acquireWorkerLease, generatorForLease, type WorkerLease } from '../src/kernel/worker-lease.js';

export interface IdsBenchOptions {
  /** Total ids across all processes. */
  count: number;
  processes: number;
  databaseUrl?: string;
  /** The compiled worker script; defaults to dist/bench/ids-worker.js of this checkout. */
  workerScript?: string;
}

export interface IdsBenchResult {
  bench: 'ids';
  ids_per_s: number;
  /** processes = 1: ids not greater than their predecessor; processes > 1: ids equal to another id. */
  duplicates: number;
  /** Ids not greater than the previous id from the same generator, summed over generators. */
  non_increasing: number;
  processes: number;
  count: number;
  /** The worker id each generator used (leased ones from the database; 0 without a database). */
  worker_ids: number[];
  /** Wall time of the generation phase. */
  elapsed_ms: number;
}

/** Messages from the parent to an ids-worker child. */
export type ToWorker = { type: 'start'; databaseUrl: string; count: number; outFile: string } | { type: 'go' };

/** Messages from an ids-worker child to the parent. */
export type FromWorker =
  | { type: 'ready'; workerId: number }
  | { type: 'generated'; elapsedMs: number; nonIncreasing: number }
  | { type: 'written' }
  | { type: 'error'; message: string };

const CHUNK = 1 << 20;

/**
 * Fills `out` with ids from `gen` and returns how many were not greater than the previous one.
 * It yields to the event loop between chunks of about a million ids, because the lease heartbeat
 * runs on timers: a long synchronous loop would starve it and the generator would (rightly) stop
 * once the lease could no longer be confirmed.
 */
export async function fillIds(gen: IdGenerator, out: BigUint64Array): Promise<number> {
  let prev = -1n;
  let nonIncreasing = 0;
  for (let start = 0; start < out.length; start += CHUNK) {
    const end = Math.min(out.length, start + CHUNK);
    for (let i = start; i < end; i++) {
      const id = gen.next();
      if (id <= prev) nonIncreasing++;
      out[i] = id;
      prev = id;
    }
    if (end < out.length) await new Promise((r) => setImmediate(r));
  }
  return nonIncreasing;
}

/** The ids' bytes as little-endian uint64: a view of the array on little-endian machines, a copy otherwise. */
export function idsAsLittleEndian(ids: BigUint64Array): Buffer {
  const buf = Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength);
  if (endianness() === 'LE') return buf;
  const le = Buffer.alloc(ids.byteLength);
  for (let i = 0; i < ids.length; i++) le.writeBigUInt64LE(ids[i]!, i * 8);
  return le;
}

export async function runIdsBench(opts: IdsBenchOptions): Promise<IdsBenchResult> {
  if (!Number.isSafeInteger(opts.count) || opts.count < 1) throw new Error('count must be a positive integer');
  if (!Number.isSafeInteger(opts.processes) || opts.processes < 1) throw new Error('processes must be a positive integer');
  return opts.processes === 1 ? runInProcess(opts) : runInChildren(opts);
}

async function runInProcess(opts: IdsBenchOptions): Promise<IdsBenchResult> {
  const pool = opts.databaseUrl ? createPool(opts.databaseUrl, { max: 2, applicationName: 'paycore-bench-ids' }) : undefined;
  let lease: WorkerLease | undefined;
  try {
    if (pool) lease = await acquireWorkerLease(pool, { label: 'bench-ids' });
    const gen = lease ? generatorForLease(lease) : new IdGenerator({ workerId: 0 });
    // Allocated and touched before timing, so page faults of a fresh allocation are not counted.
    const ids = new BigUint64Array(opts.count).fill(0n);
    const t0 = performance.now();
    const nonIncreasing = await fillIds(gen, ids);
    const elapsedMs = performance.now() - t0;
    return {
      bench: 'ids',
      ids_per_s: Math.round(opts.count / (elapsedMs / 1000)),
      duplicates: nonIncreasing,
      non_increasing: nonIncreasing,
      processes: 1,
      count: opts.count,
      worker_ids: [gen.workerId],
      elapsed_ms: Math.round(elapsedMs * 1000) / 1000,
    };
  } finally {
    await lease?.release();
    await pool?.end();
  }
}

/**
 * The compiled worker next to this file when running from dist/bench, else dist/bench of the
 * checkout this source file belongs to (tests import the TypeScript source, but child processes
 * run plain node and need the compiled JavaScript).
 */
function defaultWorkerScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'ids-worker.js');
  const root = resolve(dirname(here), '..');
  return join(root, 'dist', basename(dirname(here)), 'ids-worker.js');
}

interface Tracked {
  proc: ChildProcess;
  ready: Promise<number>;
  /** Resolves with the parent's clock when the child reported its ids generated. */
  generated: Promise<{ atMs: number; nonIncreasing: number }>;
  written: Promise<void>;
  exited: Promise<void>;
}

/** Follows one child's messages; every promise rejects if the child reports an error or exits early. */
function track(proc: ChildProcess): Tracked {
  type Settle<T> = { resolve: (v: T) => void; reject: (e: Error) => void };
  const waiters: Settle<never>[] = [];
  const make = <T>(): [Promise<T>, Settle<T>] => {
    let s!: Settle<T>;
    const p = new Promise<T>((resolve, reject) => (s = { resolve, reject }));
    // Marked handled here; callers still see the rejection when they await the promise.
    p.catch(() => undefined);
    waiters.push(s as Settle<never>);
    return [p, s];
  };
  const [ready, readyS] = make<number>();
  const [generated, generatedS] = make<{ atMs: number; nonIncreasing: number }>();
  const [written, writtenS] = make<void>();
  const [exited, exitedS] = make<void>();
  const failAll = (e: Error): void => waiters.forEach((w) => w.reject(e));
  proc.on('message', (raw) => {
    const m = raw as FromWorker;
    if (m.type === 'ready') readyS.resolve(m.workerId);
    else if (m.type === 'generated') generatedS.resolve({ atMs: performance.now(), nonIncreasing: m.nonIncreasing });
    else if (m.type === 'written') writtenS.resolve();
    else if (m.type === 'error') failAll(new Error(`ids worker ${proc.pid}: ${m.message}`));
  });
  proc.on('error', (e) => failAll(e));
  proc.on('exit', (code, signal) => {
    // Settled promises ignore later rejections, so this only fails what the child never delivered.
    if (code === 0) exitedS.resolve();
    failAll(new Error(`ids worker ${proc.pid} exited (code ${code}, signal ${signal}) before finishing`));
  });
  return { proc, ready, generated, written, exited };
}

async function runInChildren(opts: IdsBenchOptions): Promise<IdsBenchResult> {
  if (!opts.databaseUrl) throw new Error('processes > 1 needs databaseUrl: each process leases its own worker id');
  const script = opts.workerScript ?? defaultWorkerScript();
  if (!existsSync(script)) throw new Error(`${script} does not exist; compile first with npx tsc -p tsconfig.json`);
  const p = opts.processes;
  const shares = Array.from({ length: p }, (_, i) => Math.floor(opts.count / p) + (i < opts.count % p ? 1 : 0));
  const dir = mkdtempSync(join(tmpdir(), 'paycore-ids-bench-'));
  const files = shares.map((_, i) => join(dir, `ids-${i}.bin`));
  // execArgv is cleared so the children run as plain node even when the parent runs under a test
  // runner or a loader.
  const children = shares.map((n, i) => {
    const proc = fork(script, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const t = track(proc);
    const start: ToWorker = { type: 'start', databaseUrl: opts.databaseUrl!, count: n, outFile: files[i]! };
    proc.send(start);
    return t;
  });
  try {
    const workerIds = await Promise.all(children.map((c) => c.ready));
    const go: ToWorker = { type: 'go' };
    const goAt = performance.now();
    for (const c of children) c.proc.send(go);
    const generated = await Promise.all(children.map((c) => c.generated));
    const elapsedMs = Math.max(...generated.map((g) => g.atMs)) - goAt;
    await Promise.all(children.map((c) => c.written));
    await Promise.all(children.map((c) => c.exited));

    const all = readAll(files, shares);
    all.sort();
    let duplicates = 0;
    for (let i = 1; i < all.length; i++) if (all[i] === all[i - 1]) duplicates++;
    return {
      bench: 'ids',
      ids_per_s: Math.round(opts.count / (elapsedMs / 1000)),
      duplicates,
      non_increasing: generated.reduce((a, g) => a + g.nonIncreasing, 0),
      processes: p,
      count: opts.count,
      worker_ids: workerIds,
      elapsed_ms: Math.round(elapsedMs * 1000) / 1000,
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads every child's file straight into one array, checking each holds exactly its share. */
function readAll(files: string[], shares: number[]): BigUint64Array {
  const total = shares.reduce((a, b) => a + b, 0);
  const all = new BigUint64Array(total);
  let offset = 0;
  files.forEach((file, i) => {
    const bytes = shares[i]! * 8;
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size !== bytes) throw new Error(`${file} holds ${size} bytes, expected ${bytes}`);
      const view = Buffer.from(all.buffer, offset * 8, bytes);
      for (let done = 0; done < bytes; ) {
        const n = readSync(fd, view, done, bytes - done, done);
        if (n === 0) throw new Error(`${file} ended early`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    offset += shares[i]!;
  });
  if (endianness() !== 'LE') {
    const dv = new DataView(all.buffer);
    for (let i = 0; i < all.length; i++) all[i] = dv.getBigUint64(i * 8, true);
  }
  return all;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

// Run directly (not imported): parse the flags, run once, print one JSON line.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const databaseUrl = argValue(args, '--database-url') ?? (process.env['DATABASE_URL'] || undefined);
  runIdsBench({
    count: Number(argValue(args, '--count') ?? 10_000_000),
    processes: Number(argValue(args, '--processes') ?? 1),
    ...(databaseUrl ? { databaseUrl } : {}),
  }).then(
    (r) => console.log(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
