// Proves with random operation sequences (fast-check) that transfers, holds, posts, voids, expiries, linked chains, freezes and retries keep every ledger invariant, never break a balance limit, and agree with a simple reference model on every outcome and balance.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../kernel/clock.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import type { TransferRequest } from './index.js';

const N = 4; // limited accounts; index N is the unlimited funding account
type Cmd =
  | { t: 'fund'; to: number; amount: number }
  | { t: 'move'; from: number; to: number; amount: number; pending: boolean; timeout: number | null }
  | { t: 'chain'; legs: { from: number; to: number; amount: number }[] }
  | { t: 'post'; hold: number; amount: number | null }
  | { t: 'void'; hold: number }
  | { t: 'advance'; seconds: number }
  | { t: 'freeze'; acct: number; on: boolean }
  | { t: 'retry'; back: number };

const acct = fc.integer({ min: 0, max: N - 1 });
// Small amounts make exact-limit boundaries (balance == amount) common.
const amount = fc.integer({ min: 1, max: 40 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ t: fc.constant('fund' as const), to: acct, amount }),
  fc.record({ t: fc.constant('move' as const), from: acct, to: acct, amount, pending: fc.boolean(), timeout: fc.option(fc.integer({ min: 1, max: 20 }), { nil: null }) }),
  fc.record({ t: fc.constant('chain' as const), legs: fc.array(fc.record({ from: acct, to: acct, amount }), { minLength: 2, maxLength: 3 }) }),
  fc.record({ t: fc.constant('post' as const), hold: fc.nat(20), amount: fc.option(amount, { nil: null }) }),
  fc.record({ t: fc.constant('void' as const), hold: fc.nat(20) }),
  fc.record({ t: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 15 }) }),
  fc.record({ t: fc.constant('freeze' as const), acct, on: fc.boolean() }),
  fc.record({ t: fc.constant('retry' as const), back: fc.nat(10) }),
);

interface MAcct { dp: bigint; dpo: bigint; cp: bigint; cpo: bigint; limit: bigint; frozen: boolean; limited: boolean }
interface MHold { id: bigint; from: number; to: number; amount: bigint; status: 'pending' | 'done'; timeoutAt: number | null }

const clock = new ManualClock(Date.UTC(2026, 5, 1, 0, 0, 0));
let f: LedgerFixture;
beforeAll(async () => {
  f = await ledgerFixture({ clock });
});
afterAll(async () => {
  await f.close();
});

let runNo = 0;

describe('ledger under random operations', () => {
  it('matches the reference model and keeps every invariant', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 5, maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 60 }), { minLength: N, maxLength: N }), async (cmds, limits) => {
        const run = ++runNo;
        const ids: bigint[] = [];
        const m: MAcct[] = [];
        for (let i = 0; i < N; i++) {
          ids.push(await f.account({ debitsMustNotExceedCredits: true, creditLimit: BigInt(limits[i]!) }));
          m.push({ dp: 0n, dpo: 0n, cp: 0n, cpo: 0n, limit: BigInt(limits[i]!), frozen: false, limited: true });
        }
        ids.push(await f.account({ type: 'asset' }));
        m.push({ dp: 0n, dpo: 0n, cp: 0n, cpo: 0n, limit: 0n, frozen: false, limited: false });
        const holds: MHold[] = [];
        const history: { req: TransferRequest; ok: boolean }[] = [];
        let k = 0;
        const key = () => `p${run}-${++k}`;

        const canDebit = (a: MAcct, amt: bigint) => !a.limited || a.dp + a.dpo + amt <= a.cpo + a.limit;
        const submit = async (req: TransferRequest) => {
          const r = await f.ledger.createTransfers([req]);
          if (!r.ok) throw new Error(r.code);
          return r.value[0]!;
        };

        for (const c of cmds) {
          switch (c.t) {
            case 'fund':
            case 'move': {
              const from = c.t === 'fund' ? N : c.from;
              const pending = c.t === 'move' && c.pending;
              const req: TransferRequest = { idempotencyKey: key(), kind: pending ? 'pending' : 'posted', debitAccountId: ids[from]!, creditAccountId: ids[c.to]!, amount: BigInt(c.amount), currency: 'CNY' };
              if (c.t === 'move' && c.pending && c.timeout) req.timeoutSeconds = c.timeout;
              const o = await submit(req);
              const amt = BigInt(c.amount);
              const expectOk = from !== c.to && !m[from]!.frozen && !m[c.to]!.frozen && canDebit(m[from]!, amt);
              expect(o.ok, JSON.stringify({ c, o: o.ok ? 'ok' : o.code })).toBe(expectOk);
              history.push({ req, ok: o.ok });
              if (o.ok) {
                if (pending) {
                  m[from]!.dp += amt;
                  m[c.to]!.cp += amt;
                  holds.push({ id: o.transfer.id, from, to: c.to, amount: amt, status: 'pending', timeoutAt: req.timeoutSeconds ? clock.nowMs() + req.timeoutSeconds * 1000 : null });
                } else {
                  m[from]!.dpo += amt;
                  m[c.to]!.cpo += amt;
                }
              }
              break;
            }
            case 'chain': {
              const reqs = c.legs.map((l, i): TransferRequest => ({ idempotencyKey: key(), debitAccountId: ids[l.from]!, creditAccountId: ids[l.to]!, amount: BigInt(l.amount), currency: 'CNY', linked: i < c.legs.length - 1 }));
              const r = await f.ledger.createTransfers(reqs);
              if (!r.ok) throw new Error(r.code);
              // The model applies legs on a copy and keeps them only if every leg succeeds.
              const copy = m.map((a) => ({ ...a }));
              let allOk = true;
              for (const l of c.legs) {
                const amt = BigInt(l.amount);
                if (l.from === l.to || copy[l.from]!.frozen || copy[l.to]!.frozen || !canDebit(copy[l.from]!, amt)) {
                  allOk = false;
                  break;
                }
                copy[l.from]!.dpo += amt;
                copy[l.to]!.cpo += amt;
              }
              expect(r.value.every((o) => o.ok)).toBe(allOk);
              expect(r.value.every((o) => !o.ok)).toBe(!allOk);
              if (allOk) copy.forEach((a, i) => Object.assign(m[i]!, a));
              break;
            }
            case 'post':
            case 'void': {
              const h = holds[c.hold % Math.max(holds.length, 1)];
              if (!h) break;
              const amt = c.t === 'post' && c.amount !== null ? BigInt(c.amount) : h.amount;
              const req: TransferRequest = { idempotencyKey: key(), kind: c.t === 'post' ? 'post_pending' : 'void_pending', pendingId: h.id };
              if (c.t === 'post' && c.amount !== null) req.amount = amt;
              const o = await submit(req);
              const timedOut = h.timeoutAt !== null && h.timeoutAt <= clock.nowMs();
              const expectOk = h.status === 'pending' && !timedOut && (c.t === 'void' || (amt <= h.amount && !m[h.from]!.frozen && !m[h.to]!.frozen));
              expect(o.ok, JSON.stringify({ c, o: o.ok ? 'ok' : o.code })).toBe(expectOk);
              history.push({ req, ok: o.ok });
              if (o.ok) {
                m[h.from]!.dp -= h.amount;
                m[h.to]!.cp -= h.amount;
                if (c.t === 'post') {
                  m[h.from]!.dpo += amt;
                  m[h.to]!.cpo += amt;
                }
                h.status = 'done';
              }
              break;
            }
            case 'advance': {
              clock.advance(c.seconds * 1000);
              await f.ledger.expirePendingTransfers();
              for (const h of holds) {
                if (h.status === 'pending' && h.timeoutAt !== null && h.timeoutAt <= clock.nowMs()) {
                  m[h.from]!.dp -= h.amount;
                  m[h.to]!.cp -= h.amount;
                  h.status = 'done';
                }
              }
              break;
            }
            case 'freeze': {
              const r = await f.ledger.setAccountStatus({ id: ids[c.acct]!, status: c.on ? 'frozen' : 'active', reason: 'property test' });
              expect(r.ok).toBe(true);
              m[c.acct]!.frozen = c.on;
              break;
            }
            case 'retry': {
              const prev = history[history.length - 1 - (c.back % Math.max(history.length, 1))];
              if (!prev || !prev.ok) break;
              // A retry of something that succeeded returns the original and moves nothing.
              const o = await submit(prev.req);
              expect(o.ok && o.existed).toBe(true);
              break;
            }
          }
        }
        for (let i = 0; i <= N; i++) {
          const a = await f.ledger.getAccount(ids[i]!);
          if (!a.ok) throw new Error(a.code);
          expect([a.value.debitsPending, a.value.debitsPosted, a.value.creditsPending, a.value.creditsPosted]).toEqual([m[i]!.dp, m[i]!.dpo, m[i]!.cp, m[i]!.cpo]);
          if (i < N) expect(a.value.debitsPending + a.value.debitsPosted <= a.value.creditsPosted + a.value.creditLimit).toBe(true);
        }
        const v = await f.ledger.verify();
        expect(v.violations).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
