// Proves offline debit MACs verify and break on any one-field change, the simulated purse enforces its limits and counts ATCs monotonically, a torn debit leaves a valid provable record that a retry does not charge twice, and uploads are sorted into fresh, duplicate, rejected and gap.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATC_MAX,
  CardPurse,
  deriveCardKey,
  encodeOfflineDebit,
  offlineDebitMac,
  reconcileUpload,
  tornRetryDecision,
  verifyOfflineDebitMac,
  type OfflineDebitRecord,
  type SignedOfflineDebit,
} from './ecash.js';

const master = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
const cardId = '7301000000000042';
const cardKey = deriveCardKey(master, cardId);
const t0 = new Date('2025-06-01T08:30:00.000Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

const record: OfflineDebitRecord = {
  cardId,
  atc: 7,
  amountMinor: 350n,
  balanceBeforeMinor: 10_000n,
  balanceAfterMinor: 9_650n,
  terminalId: 'T0001',
  merchantId: 'M100',
  occurredAt: t0.toISOString(),
};

function purse(balance = 50_000n): CardPurse {
  return new CardPurse({ cardId, cardKey, balanceLimitMinor: 100_000n, singleTxLimitMinor: 20_000n, balanceMinor: balance });
}

function must<T>(r: { ok: true; value: T } | { ok: false; code: string }): T {
  if (!r.ok) throw new Error(r.code);
  return r.value;
}

describe('card keys and MACs', () => {
  it('derives a distinct 32-byte key per card, stable for the same card', () => {
    expect(cardKey).toHaveLength(32);
    expect(deriveCardKey(master, cardId).equals(cardKey)).toBe(true);
    expect(deriveCardKey(master, '7301000000000043').equals(cardKey)).toBe(false);
    expect(deriveCardKey(Buffer.alloc(32, 1), cardId).equals(cardKey)).toBe(false);
    expect(() => deriveCardKey(Buffer.alloc(8), cardId)).toThrow();
  });

  it('produces 16 hex characters that verify', () => {
    const mac = offlineDebitMac(cardKey, record);
    expect(mac).toMatch(/^[0-9a-f]{16}$/);
    expect(verifyOfflineDebitMac(cardKey, { ...record, mac })).toBe(true);
    expect(verifyOfflineDebitMac(deriveCardKey(master, 'other'), { ...record, mac })).toBe(false);
  });

  it('breaks when any single field changes', () => {
    const mac = offlineDebitMac(cardKey, record);
    const changed: Partial<OfflineDebitRecord>[] = [
      { cardId: '7301000000000043' },
      { atc: 8 },
      { amountMinor: 351n, balanceAfterMinor: 9_649n },
      { balanceBeforeMinor: 10_001n, balanceAfterMinor: 9_651n },
      { amountMinor: 349n, balanceBeforeMinor: 9_999n },
      { terminalId: 'T0002' },
      { merchantId: 'M101' },
      { occurredAt: at(1).toISOString() },
    ];
    for (const c of changed) expect(verifyOfflineDebitMac(cardKey, { ...record, ...c, mac }), JSON.stringify(Object.keys(c))).toBe(false);
    // A changed MAC breaks it too, as do malformed MACs.
    const flipped = (mac[0] === '0' ? '1' : '0') + mac.slice(1);
    expect(verifyOfflineDebitMac(cardKey, { ...record, mac: flipped })).toBe(false);
    expect(verifyOfflineDebitMac(cardKey, { ...record, mac: mac.toUpperCase() })).toBe(mac === mac.toUpperCase());
    expect(verifyOfflineDebitMac(cardKey, { ...record, mac: mac.slice(0, 14) })).toBe(false);
  });

  it('encodes unambiguously: moving text between adjacent fields changes the bytes', () => {
    const a = encodeOfflineDebit({ ...record, terminalId: 'T1', merchantId: '2M' });
    const b = encodeOfflineDebit({ ...record, terminalId: 'T12', merchantId: 'M' });
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(0, 22).toString('ascii')).toBe('PAYCORE-ECASH-DEBIT-V1');
  });

  it('refuses to sign malformed records and never verifies them', () => {
    const bad: Partial<OfflineDebitRecord>[] = [
      { atc: 0 },
      { atc: ATC_MAX + 1 },
      { atc: 1.5 },
      { amountMinor: 0n, balanceAfterMinor: 10_000n },
      { balanceAfterMinor: 9_000n },
      { occurredAt: '2025-06-01T08:30:00Z' },
      { occurredAt: '2025-06-01T16:30:00.000+08:00' },
      { terminalId: '' },
    ];
    for (const b of bad) {
      expect(() => offlineDebitMac(cardKey, { ...record, ...b })).toThrow();
      expect(verifyOfflineDebitMac(cardKey, { ...record, ...b, mac: '0'.repeat(16) })).toBe(false);
    }
  });
});

describe('CardPurse', () => {
  const sale = (amountMinor: bigint, s = 0) => ({ amountMinor, terminalId: 'T0001', merchantId: 'M100', occurredAt: at(s) });

  it('loads up to exactly the balance limit and refuses one fen more', () => {
    const p = purse(0n);
    expect(must(p.load(99_999n))).toEqual({ balanceMinor: 99_999n });
    expect(p.load(2n)).toMatchObject({ ok: false, code: 'purse_balance_limit_exceeded' });
    expect(must(p.load(1n))).toEqual({ balanceMinor: 100_000n });
    expect(p.load(1n)).toMatchObject({ ok: false, code: 'purse_balance_limit_exceeded' });
    expect(p.load(0n)).toMatchObject({ ok: false, code: 'invalid_amount' });
    expect(p.balanceMinor).toBe(100_000n);
  });

  it('debits up to the single-transaction limit and the balance, signing each record', () => {
    const p = purse(25_000n);
    expect(p.debit(sale(20_001n))).toMatchObject({ ok: false, code: 'purse_single_tx_limit_exceeded' });
    const r = must(p.debit(sale(20_000n)));
    expect(r).toMatchObject({ cardId, atc: 1, amountMinor: 20_000n, balanceBeforeMinor: 25_000n, balanceAfterMinor: 5_000n, occurredAt: t0.toISOString() });
    expect(verifyOfflineDebitMac(cardKey, r)).toBe(true);
    expect(p.debit(sale(5_001n))).toMatchObject({ ok: false, code: 'purse_insufficient_balance' });
    expect(must(p.debit(sale(5_000n))).balanceAfterMinor).toBe(0n);
    expect(p.debit(sale(0n))).toMatchObject({ ok: false, code: 'invalid_amount' });
    // Refusals neither count nor change the balance.
    expect(p.atc).toBe(2);
    expect(p.balanceMinor).toBe(0n);
  });

  it('counts every successful debit by one and stops at the counter limit', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -5n, max: 30_000n }), { maxLength: 40 }), (amounts) => {
        const p = purse(100_000n);
        let lastAtc = 0;
        for (const a of amounts) {
          const r = p.debit(sale(a));
          if (r.ok) {
            expect(r.value.atc).toBe(lastAtc + 1);
            lastAtc = r.value.atc;
          }
          expect(p.atc).toBe(lastAtc);
        }
      }),
    );
    const old = new CardPurse({ cardId, cardKey, balanceLimitMinor: 1000n, singleTxLimitMinor: 1000n, balanceMinor: 10n, atc: ATC_MAX - 1 });
    expect(must(old.debit(sale(1n))).atc).toBe(ATC_MAX);
    expect(old.debit(sale(1n))).toMatchObject({ ok: false, code: 'purse_atc_exhausted' });
  });

  it('keeps only the last records in its log', () => {
    const p = new CardPurse({ cardId, cardKey, balanceLimitMinor: 1000n, singleTxLimitMinor: 100n, balanceMinor: 1000n, logCapacity: 3 });
    for (let i = 0; i < 5; i++) must(p.debit(sale(10n, i)));
    expect(p.readLog().map((r) => r.atc)).toEqual([3, 4, 5]);
    expect(p.transactionProof(2)).toBeUndefined();
    expect(p.transactionProof(5)?.atc).toBe(5);
  });
});

describe('torn (flash-card) debits', () => {
  const attempt = { amountMinor: 1_200n, terminalId: 'T0001', merchantId: 'M100' };

  it('debit the card and leave a valid record the terminal never received', () => {
    const p = purse(5_000n);
    const atcBefore = p.atc;
    expect(p.tornDebit({ ...attempt, occurredAt: t0 })).toEqual({ ok: true, value: true });
    expect(p.balanceMinor).toBe(3_800n);
    const proof = p.transactionProof(atcBefore + 1);
    expect(proof).toMatchObject({ atc: 1, amountMinor: 1_200n, balanceAfterMinor: 3_800n });
    expect(proof && verifyOfflineDebitMac(cardKey, proof)).toBe(true);
  });

  it('are completed from the proof on retry, so the card is charged once', () => {
    const p = purse(5_000n);
    const atcBefore = p.atc;
    must(p.tornDebit({ ...attempt, occurredAt: t0 }));
    const d = tornRetryDecision({ cardId, atcBeforeAttempt: atcBefore, atcNow: p.atc, proof: p.transactionProof(atcBefore + 1), intended: attempt });
    expect(d.kind).toBe('already_debited');
    expect(p.balanceMinor).toBe(3_800n);
    expect(p.atc).toBe(1);
  });

  it('retry normally when the card never wrote the debit, and stop when the card moved on otherwise', () => {
    const p = purse(5_000n);
    expect(tornRetryDecision({ cardId, atcBeforeAttempt: 0, atcNow: p.atc, proof: undefined, intended: attempt })).toEqual({ kind: 'not_debited' });
    must(p.debit({ ...attempt, amountMinor: 99n, occurredAt: t0 }));
    const d = tornRetryDecision({ cardId, atcBeforeAttempt: 0, atcNow: p.atc, proof: p.transactionProof(1), intended: attempt });
    expect(d.kind).toBe('unresolved');
    expect(tornRetryDecision({ cardId, atcBeforeAttempt: 0, atcNow: 1, proof: undefined, intended: attempt }).kind).toBe('unresolved');
  });

  it('refuse before writing anything when the card would refuse anyway', () => {
    const p = purse(100n);
    expect(p.tornDebit({ ...attempt, occurredAt: t0 })).toMatchObject({ ok: false, code: 'purse_insufficient_balance' });
    expect(p.atc).toBe(0);
  });
});

describe('reconcileUpload', () => {
  function records(n: number): SignedOfflineDebit[] {
    const p = purse(100_000n);
    return Array.from({ length: n }, (_, i) => must(p.debit({ amountMinor: 100n + BigInt(i), terminalId: 'T0001', merchantId: 'M100', occurredAt: at(i) })));
  }
  const base = { cardId, cardKey };

  it('applies a clean batch in ATC order with no gaps', () => {
    const rs = records(4);
    const out = reconcileUpload({ ...base, lastAppliedAtc: 0, records: [rs[2]!, rs[0]!, rs[3]!, rs[1]!] });
    expect(out.fresh.map((r) => r.atc)).toEqual([1, 2, 3, 4]);
    expect(out).toMatchObject({ duplicates: [], rejected: [], gaps: [], highestAtc: 4 });
  });

  it('marks applied and repeated ATCs as duplicates', () => {
    const rs = records(4);
    const out = reconcileUpload({ ...base, lastAppliedAtc: 2, records: [rs[1]!, rs[2]!, rs[2]!, rs[3]!] });
    expect(out.fresh.map((r) => r.atc)).toEqual([3, 4]);
    expect(out.duplicates.map((d) => [d.record.atc, d.reason])).toEqual([
      [2, 'already_applied'],
      [3, 'repeated_in_batch'],
    ]);
  });

  it('reports counter gaps as inclusive ranges', () => {
    const rs = records(9);
    const out = reconcileUpload({ ...base, lastAppliedAtc: 1, records: [rs[2]!, rs[5]!, rs[8]!] });
    expect(out.fresh.map((r) => r.atc)).toEqual([3, 6, 9]);
    expect(out.gaps).toEqual([
      { fromAtc: 2, toAtc: 2 },
      { fromAtc: 4, toAtc: 5 },
      { fromAtc: 7, toAtc: 8 },
    ]);
    expect(out.highestAtc).toBe(9);
  });

  it('with the applied map, fills an earlier gap and catches a conflicting record under an applied ATC', () => {
    const rs = records(6);
    const applied = new Map([
      [4, rs[3]!.mac],
      [6, rs[5]!.mac],
    ]);
    // A second, validly signed record claiming ATC 4: only a cloned card or leaked key makes one.
    const clone = { ...rs[3]!, amountMinor: 1n, balanceAfterMinor: rs[3]!.balanceBeforeMinor - 1n };
    const forgedClone = { ...clone, mac: offlineDebitMac(cardKey, clone) };
    const out = reconcileUpload({ ...base, lastAppliedAtc: 6, applied, records: [rs[4]!, rs[3]!, forgedClone] });
    expect(out.fresh.map((r) => r.atc)).toEqual([5]);
    expect(out.duplicates.map((d) => d.record.atc)).toEqual([4]);
    expect(out.rejected.map((r) => [r.record.atc, r.code])).toEqual([[4, 'offline_atc_conflict']]);
    expect(out.highestAtc).toBe(6);
  });

  it('rejects forged MACs, malformed records and other cards\' records, applying none of them', () => {
    const rs = records(3);
    const tampered = { ...rs[0]!, amountMinor: 1n, balanceAfterMinor: rs[0]!.balanceBeforeMinor - 1n };
    const broken = { ...rs[1]!, balanceAfterMinor: 0n };
    const other = { ...rs[2]!, cardId: 'someone-else' };
    const out = reconcileUpload({ ...base, lastAppliedAtc: 0, records: [tampered, broken, other] });
    expect(out.rejected.map((r) => r.code)).toEqual(['offline_mac_invalid', 'offline_record_invalid', 'offline_record_wrong_card']);
    expect(out.fresh).toEqual([]);
    expect(out.highestAtc).toBe(0);
    // A conflict inside one batch: the first valid record wins and the second is refused.
    const twin = { ...rs[0]!, terminalId: 'T0009' };
    const signedTwin = { ...twin, mac: offlineDebitMac(cardKey, twin) };
    const c = reconcileUpload({ ...base, lastAppliedAtc: 0, records: [rs[0]!, signedTwin] });
    expect(c.fresh.map((r) => r.terminalId)).toEqual(['T0001']);
    expect(c.rejected.map((r) => r.code)).toEqual(['offline_atc_conflict']);
  });

  it('applies every genuine record exactly once however batches are split, repeated and reordered', () => {
    const rs = records(12);
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 8 }), { maxLength: 6 }), (batches) => {
        const appliedMacs = new Map<number, string>();
        let last = 0;
        const appliedOrder: number[] = [];
        for (const b of batches) {
          const out = reconcileUpload({ ...base, lastAppliedAtc: last, applied: appliedMacs, records: b.map((i) => rs[i]!) });
          expect(out.rejected).toEqual([]);
          for (const r of out.fresh) {
            appliedMacs.set(r.atc, r.mac);
            appliedOrder.push(r.atc);
          }
          last = out.highestAtc;
        }
        expect(new Set(appliedOrder).size).toBe(appliedOrder.length);
        expect(new Set(appliedOrder)).toEqual(new Set(batches.flat().map((i) => i + 1)));
      }),
    );
  });
});
