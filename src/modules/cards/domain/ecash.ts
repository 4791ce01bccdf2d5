/**
 * Offline electronic cash (电子现金, 脱机消费), simulated in the spirit of PBOC 3.0 e-cash: the chip
 * keeps its own purse balance, balance limit, single-transaction limit and transaction counter
 * (ATC), and signs every offline debit with a MAC under a key only it and the issuer know.
 * Terminals upload the signed records later; the platform applies each (card, ATC) exactly once.
 *
 * Card keys are diversified from the issuer master key by card id, as EMV/PBOC issuers diversify
 * by PAN, so a key read out of one card opens no other card. The real scheme uses 3DES or SM4 MACs
 * of 4 bytes; this simulation uses HMAC-SHA256 cut to 8 bytes, which is what the platform verifies.
 *
 * Torn (flash, 闪卡) transactions: the card writes the debit and its log record, then the
 * terminal loses the card before the response arrives. The card's log is the proof. The terminal,
 * which noted the ATC before the attempt, asks the re-presented card for the record of ATC + 1
 * (GET TRANSACTION PROVE) and completes with it instead of debiting again (`tornRetryDecision`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { fail, ok, type Result } from '../../../kernel/errors.js';

/** The ATC is two bytes on the chip; a card that reaches it can no longer debit offline. */
export const ATC_MAX = 0xffff;
export const MAC_HEX_LENGTH = 16;
const CARD_KEY_LABEL = 'paycore/ecash/card-key/v1';
const DEBIT_RECORD_TAG = 'PAYCORE-ECASH-DEBIT-V1';
const MIN_KEY_BYTES = 16;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface OfflineDebitRecord {
  cardId: string;
  /** This debit's transaction counter: 1 for the card's first offline debit. */
  atc: number;
  amountMinor: bigint;
  balanceBeforeMinor: bigint;
  balanceAfterMinor: bigint;
  terminalId: string;
  merchantId: string;
  /** Terminal time as `Date.toISOString()` writes it; the MAC covers this exact text. */
  occurredAt: string;
}

export interface SignedOfflineDebit extends OfflineDebitRecord {
  /** 16 lower-case hex characters. */
  mac: string;
}

/** A key for one card: HMAC-SHA256(issuer master key, label ‖ 0x00 ‖ card id). */
export function deriveCardKey(issuerMasterKey: Buffer, cardId: string): Buffer {
  if (issuerMasterKey.length < MIN_KEY_BYTES) throw new Error(`the issuer master key must be at least ${MIN_KEY_BYTES} bytes`);
  if (cardId === '') throw new Error('a card key needs a card id');
  return createHmac('sha256', issuerMasterKey).update(`${CARD_KEY_LABEL}\u0000${cardId}`, 'utf8').digest();
}

/** Why a record cannot be a genuine card record, or null when it is well formed. */
export function offlineRecordProblem(r: OfflineDebitRecord): string | null {
  if (typeof r.cardId !== 'string' || r.cardId === '') return 'cardId is empty';
  if (!Number.isInteger(r.atc) || r.atc < 1 || r.atc > ATC_MAX) return `atc must be an integer from 1 to ${ATC_MAX}`;
  for (const k of ['amountMinor', 'balanceBeforeMinor', 'balanceAfterMinor'] as const) {
    if (typeof r[k] !== 'bigint' || r[k] < 0n) return `${k} must be a non-negative bigint`;
  }
  if (r.amountMinor === 0n) return 'amountMinor must be positive';
  if (r.balanceBeforeMinor - r.amountMinor !== r.balanceAfterMinor) return 'balanceAfterMinor must equal balanceBeforeMinor minus amountMinor';
  if (typeof r.terminalId !== 'string' || r.terminalId === '') return 'terminalId is empty';
  if (typeof r.merchantId !== 'string' || r.merchantId === '') return 'merchantId is empty';
  // One spelling per instant, or two encodings of the same debit would carry different MACs.
  if (typeof r.occurredAt !== 'string' || !ISO_INSTANT.test(r.occurredAt) || new Date(r.occurredAt).toISOString() !== r.occurredAt) {
    return 'occurredAt must be an ISO 8601 UTC instant with milliseconds, as Date.toISOString() writes it';
  }
  return null;
}

/**
 * The bytes the MAC covers: the ASCII tag "PAYCORE-ECASH-DEBIT-V1", then the eight fields in this
 * fixed order, each as a 4-byte big-endian byte length followed by its UTF-8 text:
 * cardId, atc, amountMinor, balanceBeforeMinor, balanceAfterMinor, terminalId, merchantId,
 * occurredAt. Numbers are plain decimal without sign or leading zeros. Length prefixes make the
 * encoding unambiguous (no choice of ids can make two records encode alike), and the version tag
 * lets a later format coexist.
 */
export function encodeOfflineDebit(r: OfflineDebitRecord): Buffer {
  const problem = offlineRecordProblem(r);
  if (problem) throw new Error(`cannot encode offline debit: ${problem}`);
  const fields = [r.cardId, String(r.atc), r.amountMinor.toString(), r.balanceBeforeMinor.toString(), r.balanceAfterMinor.toString(), r.terminalId, r.merchantId, r.occurredAt];
  const parts: Buffer[] = [Buffer.from(DEBIT_RECORD_TAG, 'ascii')];
  for (const f of fields) {
    const b = Buffer.from(f, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

/** HMAC-SHA256 of the encoding under the card key, first 8 bytes, as 16 hex characters. */
export function offlineDebitMac(cardKey: Buffer, r: OfflineDebitRecord): string {
  if (cardKey.length < MIN_KEY_BYTES) throw new Error('a card key must be at least 16 bytes');
  return createHmac('sha256', cardKey).update(encodeOfflineDebit(r)).digest().subarray(0, MAC_HEX_LENGTH / 2).toString('hex');
}

/** True only for a well-formed record whose MAC matches; compares in constant time. */
export function verifyOfflineDebitMac(cardKey: Buffer, r: SignedOfflineDebit): boolean {
  if (offlineRecordProblem(r) !== null || typeof r.mac !== 'string' || !/^[0-9a-f]{16}$/.test(r.mac)) return false;
  const expected = Buffer.from(offlineDebitMac(cardKey, r), 'hex');
  return timingSafeEqual(expected, Buffer.from(r.mac, 'hex'));
}

export type PurseError = 'invalid_amount' | 'purse_balance_limit_exceeded' | 'purse_single_tx_limit_exceeded' | 'purse_insufficient_balance' | 'purse_atc_exhausted';

export interface OfflineDebitInput {
  amountMinor: bigint;
  terminalId: string;
  merchantId: string;
  occurredAt: Date;
}

/**
 * The chip's purse. State lives only in this object, as it lives only on the card; the platform's
 * view of the card balance is a separate ledger account brought up to date by uploads and loads.
 */
export class CardPurse {
  readonly cardId: string;
  readonly balanceLimitMinor: bigint;
  readonly singleTxLimitMinor: bigint;
  readonly #key: Buffer;
  readonly #logCapacity: number;
  #balanceMinor: bigint;
  #atc: number;
  #log: SignedOfflineDebit[] = [];

  constructor(inp: { cardId: string; cardKey: Buffer; balanceLimitMinor: bigint; singleTxLimitMinor: bigint; balanceMinor?: bigint; atc?: number; logCapacity?: number }) {
    const balance = inp.balanceMinor ?? 0n;
    const atc = inp.atc ?? 0;
    const logCapacity = inp.logCapacity ?? 10;
    if (inp.cardId === '' || inp.cardKey.length < MIN_KEY_BYTES) throw new Error('a purse needs a card id and a card key');
    if (inp.balanceLimitMinor <= 0n || inp.singleTxLimitMinor <= 0n) throw new Error('purse limits must be positive');
    if (balance < 0n || balance > inp.balanceLimitMinor) throw new Error('the opening balance must be within the balance limit');
    if (!Number.isInteger(atc) || atc < 0 || atc > ATC_MAX) throw new Error('the opening ATC is out of range');
    if (!Number.isInteger(logCapacity) || logCapacity < 1) throw new Error('the log holds at least one record');
    this.cardId = inp.cardId;
    this.#key = Buffer.from(inp.cardKey);
    this.balanceLimitMinor = inp.balanceLimitMinor;
    this.singleTxLimitMinor = inp.singleTxLimitMinor;
    this.#balanceMinor = balance;
    this.#atc = atc;
    this.#logCapacity = logCapacity;
  }

  get balanceMinor(): bigint {
    return this.#balanceMinor;
  }

  /** The ATC of the last offline debit (0 before the first). */
  get atc(): number {
    return this.#atc;
  }

  /** Load (圈存): an online, issuer-approved top-up of the purse; it does not use the offline ATC. */
  load(amountMinor: bigint): Result<{ balanceMinor: bigint }, PurseError> {
    if (amountMinor <= 0n) return fail('invalid_amount', 'a load must be positive');
    if (this.#balanceMinor + amountMinor > this.balanceLimitMinor) {
      return fail('purse_balance_limit_exceeded', `the purse holds at most ${this.balanceLimitMinor} fen`, {
        limit: Number(this.balanceLimitMinor),
        balance: Number(this.#balanceMinor),
      });
    }
    this.#balanceMinor += amountMinor;
    return ok({ balanceMinor: this.#balanceMinor });
  }

  /** An offline debit: checks, decrements, counts, signs and logs, then answers the terminal. */
  debit(inp: OfflineDebitInput): Result<SignedOfflineDebit, PurseError> {
    return this.#debit(inp);
  }

  /**
   * The same debit, torn: the card completes it and logs the record, but the terminal never gets
   * an answer, so all it learns is that something went wrong (`true` here only says the tear was
   * simulated; a refusal still reaches the terminal because the card answered before any write).
   */
  tornDebit(inp: OfflineDebitInput): Result<true, PurseError> {
    const r = this.#debit(inp);
    return r.ok ? ok(true) : r;
  }

  /** GET TRANSACTION PROVE: the signed record of a logged debit, if the log still holds it. */
  transactionProof(atc: number): SignedOfflineDebit | undefined {
    const r = this.#log.find((x) => x.atc === atc);
    return r ? { ...r } : undefined;
  }

  /** The card's transaction log, oldest first, at most `logCapacity` records. */
  readLog(): SignedOfflineDebit[] {
    return this.#log.map((r) => ({ ...r }));
  }

  #debit(inp: OfflineDebitInput): Result<SignedOfflineDebit, PurseError> {
    if (Number.isNaN(inp.occurredAt.getTime())) throw new Error('occurredAt is not a valid time');
    if (inp.amountMinor <= 0n) return fail('invalid_amount', 'a debit must be positive');
    if (inp.amountMinor > this.singleTxLimitMinor) {
      return fail('purse_single_tx_limit_exceeded', `one offline debit is at most ${this.singleTxLimitMinor} fen`, { limit: Number(this.singleTxLimitMinor) });
    }
    if (inp.amountMinor > this.#balanceMinor) {
      return fail('purse_insufficient_balance', 'the purse balance is too low', { balance: Number(this.#balanceMinor) });
    }
    if (this.#atc >= ATC_MAX) return fail('purse_atc_exhausted', 'the card has used up its transaction counter and must be replaced');
    const record: OfflineDebitRecord = {
      cardId: this.cardId,
      atc: this.#atc + 1,
      amountMinor: inp.amountMinor,
      balanceBeforeMinor: this.#balanceMinor,
      balanceAfterMinor: this.#balanceMinor - inp.amountMinor,
      terminalId: inp.terminalId,
      merchantId: inp.merchantId,
      occurredAt: inp.occurredAt.toISOString(),
    };
    const signed: SignedOfflineDebit = { ...record, mac: offlineDebitMac(this.#key, record) };
    this.#atc = record.atc;
    this.#balanceMinor = record.balanceAfterMinor;
    this.#log.push(signed);
    if (this.#log.length > this.#logCapacity) this.#log.shift();
    return ok({ ...signed });
  }
}

export type TornRetryDecision =
  | { kind: 'already_debited'; record: SignedOfflineDebit }
  | { kind: 'not_debited' }
  /** The card moved on in a way that does not match this attempt; hand it to a person, do not debit. */
  | { kind: 'unresolved'; reason: string };

/**
 * The terminal's retry with the same card after an unanswered debit. `atcBeforeAttempt` is the
 * ATC the terminal read before the failed attempt, `atcNow` what the card reports now, and
 * `proof` the card's record for ATC `atcBeforeAttempt + 1` if it has one.
 */
export function tornRetryDecision(inp: {
  cardId: string;
  atcBeforeAttempt: number;
  atcNow: number;
  proof: SignedOfflineDebit | undefined;
  intended: { amountMinor: bigint; terminalId: string; merchantId: string };
}): TornRetryDecision {
  if (inp.atcNow === inp.atcBeforeAttempt) return { kind: 'not_debited' };
  const p = inp.proof;
  if (inp.atcNow < inp.atcBeforeAttempt) return { kind: 'unresolved', reason: 'the card reports an older counter than before the attempt' };
  if (!p) return { kind: 'unresolved', reason: 'the card counted a debit but no longer holds its record' };
  const matches =
    p.cardId === inp.cardId && p.atc === inp.atcBeforeAttempt + 1 && p.amountMinor === inp.intended.amountMinor && p.terminalId === inp.intended.terminalId && p.merchantId === inp.intended.merchantId;
  return matches ? { kind: 'already_debited', record: p } : { kind: 'unresolved', reason: 'the card\'s next debit is not this attempt' };
}

export type UploadRejectCode = 'offline_record_wrong_card' | 'offline_record_invalid' | 'offline_mac_invalid' | 'offline_atc_conflict';

export interface UploadReconciliation {
  /** Records to apply, in ATC order. */
  fresh: SignedOfflineDebit[];
  duplicates: { record: SignedOfflineDebit; reason: 'already_applied' | 'repeated_in_batch' }[];
  rejected: { record: SignedOfflineDebit; code: UploadRejectCode; message: string }[];
  /** Inclusive ATC ranges above `lastAppliedAtc` that neither this batch nor `applied` covers. */
  gaps: { fromAtc: number; toAtc: number }[];
  /** The highest ATC applied once `fresh` is applied. */
  highestAtc: number;
}

/**
 * Sorts one card's uploaded records into what to apply, what was seen before and what to refuse,
 * checking each in this order: card id, well-formedness, MAC, already applied, repeated in the
 * batch. The same ATC with a different valid MAC means a cloned card or a leaked key, so it is
 * refused as a conflict rather than treated as a duplicate.
 *
 * `lastAppliedAtc` is the highest ATC applied for the card so far. `applied` maps ATCs already
 * applied to their MACs (the store fetches the batch's ATCs); with it, a late record below
 * `lastAppliedAtc` that is not in the map fills an earlier gap and is fresh. Without it every ATC
 * up to `lastAppliedAtc` counts as applied, which is right only when the card's debits arrive in
 * counter order (one terminal). Gaps below `lastAppliedAtc` are the store's to remember.
 */
export function reconcileUpload(inp: {
  cardId: string;
  cardKey: Buffer;
  lastAppliedAtc: number;
  applied?: ReadonlyMap<number, string>;
  records: readonly SignedOfflineDebit[];
}): UploadReconciliation {
  if (!Number.isInteger(inp.lastAppliedAtc) || inp.lastAppliedAtc < 0 || inp.lastAppliedAtc > ATC_MAX) throw new Error('lastAppliedAtc is out of range');
  const out: UploadReconciliation = { fresh: [], duplicates: [], rejected: [], gaps: [], highestAtc: inp.lastAppliedAtc };
  const inBatch = new Map<number, string>();
  for (const record of inp.records) {
    const reject = (code: UploadRejectCode, message: string): void => void out.rejected.push({ record, code, message });
    if (record.cardId !== inp.cardId) {
      reject('offline_record_wrong_card', `the record is for card ${record.cardId}, not ${inp.cardId}`);
      continue;
    }
    const problem = offlineRecordProblem(record);
    if (problem) {
      reject('offline_record_invalid', problem);
      continue;
    }
    if (!verifyOfflineDebitMac(inp.cardKey, record)) {
      reject('offline_mac_invalid', `the MAC of ATC ${record.atc} does not verify`);
      continue;
    }
    const appliedMac = inp.applied ? inp.applied.get(record.atc) : record.atc <= inp.lastAppliedAtc ? record.mac : undefined;
    const earlier = appliedMac ?? inBatch.get(record.atc);
    if (earlier !== undefined) {
      if (earlier !== record.mac) reject('offline_atc_conflict', `ATC ${record.atc} was already seen with a different MAC`);
      else out.duplicates.push({ record, reason: appliedMac !== undefined ? 'already_applied' : 'repeated_in_batch' });
      continue;
    }
    inBatch.set(record.atc, record.mac);
    out.fresh.push(record);
  }
  out.fresh.sort((a, b) => a.atc - b.atc);
  const top = out.fresh.at(-1)?.atc ?? 0;
  out.highestAtc = Math.max(inp.lastAppliedAtc, top);
  let gapStart: number | null = null;
  for (let atc = inp.lastAppliedAtc + 1; atc <= out.highestAtc; atc++) {
    const covered = inBatch.has(atc) || (inp.applied?.has(atc) ?? false);
    if (!covered && gapStart === null) gapStart = atc;
    if (covered && gapStart !== null) {
      out.gaps.push({ fromAtc: gapStart, toAtc: atc - 1 });
      gapStart = null;
    }
  }
  return out;
}
