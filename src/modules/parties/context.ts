/**
 * What the use cases of the parties module share: database, clock, ids, the ledger, and the
 * vault that seals personal data and computes its lookup hashes.
 */
import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import type { Clock } from '../../kernel/clock.js';
import type { Pool } from '../../kernel/db.js';
import type { Fail, Result } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { Secret, type MasterKey } from '../../kernel/secret.js';
import type { Ledger } from '../ledger/index.js';
import type { LedgerErrorCode, PartiesErrorCode } from './errors.js';

export type PartiesCode = PartiesErrorCode | LedgerErrorCode;
export type PartiesResult<T> = Result<T, PartiesCode>;
export type PartiesFail = Fail<PartiesCode>;

/**
 * Seals personal data under the master key and computes keyed lookup hashes. The hash key is
 * derived from the master key (HKDF-SHA256) rather than stored anywhere; a plain SHA-256 of an
 * 18-character ID number could be reversed by trying every plausible number. Rotating the master
 * key therefore means re-hashing the stored documents too.
 */
export class PiiVault {
  readonly #masterKey: MasterKey;
  readonly #hashKey: Buffer;

  constructor(masterKey: MasterKey) {
    this.#masterKey = masterKey;
    this.#hashKey = masterKey.deriveKey('paycore/parties/lookup-hash/v1');
  }

  seal(plaintext: string, context: string): string {
    return this.#masterKey.seal(plaintext, context);
  }

  open(sealed: string, context: string): Secret {
    return new Secret(this.#masterKey.open(sealed, context).toString('utf8'));
  }

  /** Hex HMAC-SHA256 of "<kind>:<value>", so equal values of different kinds never collide. */
  lookupHash(kind: string, normalized: string): string {
    return createHmac('sha256', this.#hashKey).update(`${kind}:${normalized}`, 'utf8').digest('hex');
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'PiiVault([redacted])';
  }
}

export interface Ctx {
  pool: Pool;
  clock: Clock;
  nextId: () => bigint;
  ledger: Ledger;
  vault: PiiVault;
  log: Logger | undefined;
}

/** The contexts under which personal data and secrets are sealed (bound as AES-GCM associated data). */
export const sealContext = {
  idNumber: (customerId: bigint): string => `customer:${customerId}:id_number`,
  phone: (customerId: bigint): string => `customer:${customerId}:phone`,
  credential: (keyId: string): string => `credential:${keyId}`,
};
