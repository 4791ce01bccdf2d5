// Proves the UnionPay codec's pure parts: answer parsing with bracketed values, the signMethod 01 round trip, China-time formatting across the new year, and txnTime derived from business numbers.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { businessNo, ID_EPOCH_MS, SEQUENCE_BITS, WORKER_BITS } from '../../../../kernel/ids.js';
import { unionPayTxnTime } from './unionpay.adapter.js';
import { acpParseAnswer, acpSign, acpSigningString, acpVerify, chinaTime, parseChinaTime, resolveMonthDayTime } from './unionpay.codec.js';

describe('UnionPay codec', () => {
  it('parses raw answers, keeping & inside {...} and = or newlines inside values', () => {
    const pem = '-----BEGIN CERTIFICATE-----\r\nMIIB+a/b==\r\n-----END CERTIFICATE-----';
    const f = acpParseAnswer(`respCode=00&reserved={a=1&b=[x&y]}&signPubKeyCert=${pem}&empty=`);
    expect(f).toEqual({ respCode: '00', reserved: '{a=1&b=[x&y]}', signPubKeyCert: pem, empty: '' });
    expect(acpParseAnswer('<html>500</html>')).toBeUndefined();
    expect(acpParseAnswer('')).toBeUndefined();
    expect(acpParseAnswer('=x')).toBeUndefined();
  });

  it('signs the sorted key=value string without the signature field and verifies it', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const fields = { version: '5.1.0', txnAmt: '100', merId: '777290058110097', orderId: 'P1' };
    expect(acpSigningString({ ...fields, signature: 'x' })).toBe('merId=777290058110097&orderId=P1&txnAmt=100&version=5.1.0');
    const signature = acpSign(fields, privateKey);
    expect(acpVerify({ ...fields, signature }, publicKey)).toBe(true);
    expect(acpVerify({ ...fields, txnAmt: '101', signature }, publicKey)).toBe(false);
    expect(acpVerify(fields, publicKey)).toBe(false);
  });

  it('formats China time and places MMDDhhmmss in the right year', () => {
    const at = new Date('2025-12-31T16:30:05Z');
    expect(chinaTime(at)).toBe('20260101003005');
    expect(parseChinaTime('20260101003005')).toEqual(at);
    expect(parseChinaTime('2026010100300')).toBeUndefined();
    expect(resolveMonthDayTime('1231235900', at)).toEqual(new Date('2025-12-31T15:59:00Z'));
    expect(resolveMonthDayTime('0101000100', at)).toEqual(new Date('2025-12-31T16:01:00Z'));
  });

  it('derives txnTime from a business number and refuses other order numbers', () => {
    const ms = Date.UTC(2026, 4, 1, 4, 30, 0, 123) - ID_EPOCH_MS;
    const id = (BigInt(ms) << BigInt(WORKER_BITS + SEQUENCE_BITS)) | (3n << BigInt(SEQUENCE_BITS)) | 5n;
    expect(unionPayTxnTime(businessNo('P', id))).toBe('20260501123000');
    expect(() => unionPayTxnTime('ORDER-1')).toThrow(/business number/);
  });
});
