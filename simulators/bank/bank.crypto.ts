/**
 * SimBank's signatures (README §2), seen from the bank: verify a merchant's request, sign answers
 * and notifications. Written apart from the adapter's codec so one mistake cannot hide in both.
 * Also makes merchants for tests (createBankTestAccount).
 */
import { createPublicKey, createSign, createVerify, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { BankConfigJson } from '../../src/modules/channels/adapters/bank/bank.config.js';

const generateRsa = promisify(generateKeyPair);

export interface BankKey {
  keyId: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

export interface BankAgreement {
  agreementNo: string;
  status: 'ACTIVE' | 'TERMINATED';
  /** The phone the bank texts codes to, for quick pay with this bound card. */
  phone: string;
  cardLast4: string;
}

/** A merchant as the bank knows it. */
export interface BankMerchant {
  merchantId: string;
  keyId: string;
  publicKeyPem: string;
  agreements: BankAgreement[];
}

export async function createBankKey(keyId = `BK${randomBytes(4).toString('hex').toUpperCase()}`): Promise<BankKey> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
  return { keyId, privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function signAnswer(key: BankKey, body: string, now = new Date()): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signature = createSign('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`, 'utf8').sign(key.privateKey, 'base64');
  return { 'x-bank-key-id': key.keyId, 'x-bank-timestamp': timestamp, 'x-bank-nonce': nonce, 'x-bank-signature': signature };
}

export function verifyRequestSignature(publicKey: KeyObject, method: string, pathWithQuery: string, timestamp: string, nonce: string, body: string, signature: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(`${method}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${body}\n`, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

export function publicKeyOf(pem: string): KeyObject {
  return createPublicKey(pem);
}

/**
 * A fresh merchant: its key pair, one active bound-card agreement (for quick pay and collections)
 * and one terminated one, what the simulator must register, and the adapter config.
 */
export async function createBankTestAccount(opts: {
  baseUrl: string;
  bankKey: { keyId: string; publicKeyPem: string };
  merchantId?: string;
}): Promise<{ merchant: BankMerchant; config: BankConfigJson; activeAgreementNo: string; terminatedAgreementNo: string }> {
  const { publicKey, privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const merchantId = opts.merchantId ?? `SIM${randomBytes(5).toString('hex').toUpperCase()}`;
  const keyId = `MK${randomBytes(4).toString('hex').toUpperCase()}`;
  const activeAgreementNo = `AG${randomBytes(8).toString('hex').toUpperCase()}`;
  const terminatedAgreementNo = `AG${randomBytes(8).toString('hex').toUpperCase()}`;
  return {
    merchant: {
      merchantId,
      keyId,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      agreements: [
        { agreementNo: activeAgreementNo, status: 'ACTIVE', phone: '13800138000', cardLast4: '0018' },
        { agreementNo: terminatedAgreementNo, status: 'TERMINATED', phone: '13900139000', cardLast4: '0026' },
      ],
    },
    config: {
      merchantId,
      keyId,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      bankPublicKeys: { [opts.bankKey.keyId]: opts.bankKey.publicKeyPem },
      baseUrl: opts.baseUrl,
    },
    activeAgreementNo,
    terminatedAgreementNo,
  };
}
