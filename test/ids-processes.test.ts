// Proves that four processes generating one million ids together, each with its own leased worker id, produce no duplicate id.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIdsBench } from '../bench/ids.bench.js';
import { createTestDb, type TestDb } from './support/db.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const workerJs = join(root, 'dist', 'bench', 'ids-worker.js');
// The compiled worker must not be older than the sources it is built from, or the child processes
// would test yesterday's code.
const sources = ['bench/ids-worker.ts', 'bench/ids.bench.ts', 'src/kernel/ids.ts', 'src/kernel/worker-lease.ts', 'src/kernel/db.ts'].map((f) => join(root, f));

let db: TestDb;

beforeAll(async () => {
  // The children run plain node on dist/bench/ids-worker.js. `npm test` compiles first; when run
  // on its own (npx vitest run ...) the file may be missing or stale, so compile here. tsc exits
  // non-zero when any file in the project has a type error (possibly one another change is still
  // working on) but still emits, so only a missing output is treated as a failure.
  const stale = !existsSync(workerJs) || sources.some((s) => statSync(s).mtimeMs > statSync(workerJs).mtimeMs);
  if (stale) {
    try {
      if (process.env['PAYCORE_DIST_FRESH'] !== '1') execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
    } catch (e) {
      if (!existsSync(workerJs)) throw e;
    }
  }
  expect(existsSync(workerJs)).toBe(true);
  db = await createTestDb();
});

afterAll(async () => {
  await db?.drop();
});

describe('ids across processes', () => {
  it('issues 1,000,000 ids from 4 processes with 4 distinct leased worker ids and no duplicate', async () => {
    const result = await runIdsBench({ count: 1_000_000, processes: 4, databaseUrl: db.url });
    expect(result.bench).toBe('ids');
    expect(result.count).toBe(1_000_000);
    expect(result.processes).toBe(4);
    expect(result.duplicates).toBe(0);
    expect(result.non_increasing).toBe(0);
    expect(result.worker_ids).toHaveLength(4);
    expect(new Set(result.worker_ids).size).toBe(4);

    // The worker ids the children reported are the ones the database leased to them, and each
    // child released its lease when it finished.
    const rows = await db.pool.query<{ worker_id: number; live: boolean }>(
      `SELECT worker_id, lease_until > clock_timestamp() AS live FROM worker_leases WHERE holder LIKE 'bench-ids@%' ORDER BY worker_id`,
    );
    expect(rows.rows.map((r) => r.worker_id)).toEqual([...result.worker_ids].sort((a, b) => a - b));
    expect(rows.rows.every((r) => !r.live)).toBe(true);
  });
});
