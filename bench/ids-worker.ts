/**
 * Child process of the ids benchmark (run as dist/bench/ids-worker.js by bench/ids.bench.ts).
 * It leases its own worker id, reports ready, waits for "go" so that all children start generating
 * together, generates its share of ids, reports the elapsed time, writes the ids to a file as
 * little-endian uint64 and exits.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createPool } from '../src/kernel/db.js';
import { acquireWorkerLease, generatorForLease } from '../src/kernel/worker-lease.js';
import { fillIds, idsAsLittleEndian, type FromWorker, type ToWorker } from './ids.bench.js';

function send(m: FromWorker): Promise<void> {
  return new Promise((resolve, reject) => process.send!(m, undefined, {}, (e) => (e ? reject(e) : resolve())));
}

function nextMessage<T extends ToWorker['type']>(type: T): Promise<Extract<ToWorker, { type: T }>> {
  return new Promise((resolve) => {
    const on = (raw: unknown): void => {
      const m = raw as ToWorker;
      if (m.type !== type) return;
      process.off('message', on);
      resolve(m as Extract<ToWorker, { type: T }>);
    };
    process.on('message', on);
  });
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('ids-worker must be started by runIdsBench (child_process.fork)');
  const start = await nextMessage('start');
  // The "go" listener is attached before reporting ready, so a prompt "go" cannot be missed.
  const go = nextMessage('go');
  const pool = createPool(start.databaseUrl, { max: 2, applicationName: 'paycore-bench-ids' });
  try {
    const lease = await acquireWorkerLease(pool, { label: 'bench-ids' });
    try {
      const gen = generatorForLease(lease);
      // Allocated and touched before timing, so page faults of a fresh allocation are not counted.
      const ids = new BigUint64Array(start.count).fill(0n);
      await send({ type: 'ready', workerId: lease.workerId });
      await go;
      const t0 = performance.now();
      const nonIncreasing = await fillIds(gen, ids);
      const elapsedMs = performance.now() - t0;
      await send({ type: 'generated', elapsedMs, nonIncreasing });
      writeFileSync(start.outFile, idsAsLittleEndian(ids));
      await send({ type: 'written' });
    } finally {
      await lease.release();
    }
  } finally {
    await pool.end();
  }
}

main().then(
  () => process.disconnect?.(),
  async (e: unknown) => {
    process.exitCode = 1;
    await send({ type: 'error', message: e instanceof Error ? e.message : String(e) }).catch(() => undefined);
    process.disconnect?.();
  },
);
