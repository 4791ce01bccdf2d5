// The Redis velocity store against the in-memory one: Debian's redis-server on a loopback port
// (installed by .ci/run), random event streams (late events included), the same answers; and two
// stores on one Redis (two processes) see each other's events.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../kernel/clock.js';
import { createTestDb } from '../../../test/support/db.js';
import { MemoryVelocityStore, type Observation } from './domain/velocity.js';
import { Risk } from './index.js';
import { RedisVelocityStore } from './redis-velocity.js';

let redis: ChildProcess;
let url: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

beforeAll(async () => {
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    redis.once('error', (e) => reject(new Error(`redis-server could not start (apt-get install redis-server): ${e.message}`)));
    redis.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) resolve();
    });
    redis.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  url = `redis://127.0.0.1:${port}`;
}, 30_000);

afterAll(() => {
  redis?.kill('SIGTERM');
});

const W = 60_000;
let run = 0;

describe('Redis velocity store', () => {
  it('answers exactly as the in-memory store for random streams, late events and filtered reads included', async () => {
    const r = new RedisVelocityStore(url, `t${Date.now()}:`);
    try {
      // Steps: a new event; a retry of an earlier one; or, now and then, one timed far before the
      // newest (later than its window plus the grace). Now and then time jumps 5 minutes, so retries come
      // both within RETRY_MS of their first observation and after it.
      const step = fc.record({
        dt: fc.oneof({ arbitrary: fc.integer({ min: -30_000, max: 40_000 }), weight: 9 }, { arbitrary: fc.constant(300_000), weight: 1 }), key: fc.constantFrom('k1', 'k2'), member: fc.constantFrom('a', 'b', 'c', 'a:1:b', 'x\u0001y', '卡9'),
        v: fc.integer({ min: 1, max: 1000 }), add: fc.boolean(), retry: fc.option(fc.nat(), { freq: 3 }), ancient: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
      });
      await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const m = new MemoryVelocityStore();
        const id = `r${++run}`;
        let at = 0;
        let newest = 0;
        const done: { at: number; eventId: string; key: string; member: string; v: number; add: boolean }[] = [];
        for (const [i, st] of steps.entries()) {
          at = Math.max(0, at + st.dt, newest - 50_000);
          newest = Math.max(newest, at);
          // A retry repeats an earlier event (same id, key, value and member) at this step's time:
          // within RETRY_MS of its first observation it only reads, later it counts again.
          const again = st.retry !== null && done.length > 0 ? done[st.retry % done.length]! : undefined;
          const when = st.ancient && !again ? Math.max(0, newest - W - 90_000) : at;
          const e = again ?? { at: when, eventId: `${id}:e\u0001${i}:`, key: `${id}:${st.key}`, member: st.member, v: st.v, add: st.add };
          if (!again) done.push(e);
          const add = again ? st.add : e.add;
          const base = { windowMs: W, key: e.key, at: when, eventId: e.eventId };
          // The windows' filters differ: the distinct one passes another set of events (an outcome
          // fed under a decision's id counts only where the decision did not).
          const obs: Observation[] = [
            { ...base, window: 'c', kind: 'count', value: 1, member: '', add },
            { ...base, window: 's', kind: 'sum', value: e.v, member: '', add },
            { ...base, window: 'd', kind: 'distinct', value: 1, member: e.member, add: st.v % 2 === 0 },
          ];
          expect(await r.observe(obs)).toEqual(m.observe(obs));
        }
      }), { numRuns: 80 });
    } finally {
      await r.close();
    }
  }, 120_000);

  it('is shared: two processes on one Redis count each other\'s events, an event id once', async () => {
    const a = new RedisVelocityStore(url, 'shared:');
    const b = new RedisVelocityStore(url, 'shared:');
    try {
      const o = (i: number, at: number): Observation => ({ window: 'cards', kind: 'distinct', windowMs: W, key: 'device-1', at, value: 1, member: `card${i}`, eventId: `ev${i}`, add: true });
      expect(await a.observe([o(1, 1_000)])).toEqual([1]);
      expect(await b.observe([o(2, 2_000)])).toEqual([2]);
      expect(await a.observe([o(3, 3_000)])).toEqual([3]);
      expect(await b.observe([o(3, 3_000)])).toEqual([3]); // the same event again
      expect(await b.observe([o(4, 1_000 + W)])).toEqual([3]); // card1 is exactly W old
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('two engines (two processes) on one database and one Redis decide on their shared history', async () => {
    const db = await createTestDb();
    let id = 1n;
    const nextId = () => BigInt(Date.now()) * 1000n + id++;
    const prefix = `multi${Date.now()}:`;
    const a = new Risk({ pool: db.pool, clock: systemClock, nextId, velocity: new RedisVelocityStore(url, prefix), pollMs: 50 });
    const b = new Risk({ pool: db.pool, clock: systemClock, nextId, velocity: new RedisVelocityStore(url, prefix), pollMs: 50 });
    try {
      await a.start();
      await b.start();
      const v = await a.uploadRuleSet({ document: { name: 'multi', velocity: [{ name: 'device_cards', kind: 'distinct', key: 'device', of: 'card', window: '1h' }], rules: [{ id: 'CT', priority: 1, action: 'reject', when: 'device_cards >= 4', reason: 'card testing' }] } });
      if (!v.ok) throw new Error(v.message);
      await a.activate({ version: v.value.version });
      await b.refresh(true);
      expect(b.versions().active).toBe(v.value.version);
      const actions: string[] = [];
      for (let i = 0; i < 6; i++) actions.push((await (i % 2 ? b : a).decide({ id: `m${i}`, kind: 'payment', at: Date.now(), amount: 100n, device: 'dev', card: `c${i}` })).action);
      expect(actions).toEqual(['accept', 'accept', 'accept', 'reject', 'reject', 'reject']);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
