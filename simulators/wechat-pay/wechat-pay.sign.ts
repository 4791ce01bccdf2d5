/**
 * The simulator's side of WeChat Pay APIv3 security: it checks the merchant's Authorization header
 * (WECHATPAY2-SHA256-RSA2048, SHA256withRSA over "METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n" with the
 * merchant key registered under serial_no), signs its answers and notifications with the platform
 * key (Wechatpay-Timestamp/Nonce/Signature/Serial over "TIMESTAMP\nNONCE\nBODY\n"), and encrypts
 * resources with AEAD_AES_256_GCM under the merchant's APIv3 key.
 *
 * Written independently of the adapter's code on purpose, so a mistake on one side is not mirrored
 * on the other.
 */
import { createCipheriv, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { PlatformIdentity } from './wechat-pay.keys.js';
import { randomAlphanumeric } from './wechat-pay.keys.js';

export interface AuthorizationParams {
  mchid: string;
  nonceStr: string;
  signature: string;
  timestamp: string;
  serialNo: string;
}

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",k="v",…`; undefined when the scheme or a parameter is missing. */
export function parseAuthorization(header: string | undefined): AuthorizationParams | undefined {
  const m = /^WECHATPAY2-SHA256-RSA2048 (.+)$/.exec(header?.trim() ?? '');
  if (!m) return undefined;
  const params = new Map<string, string>();
  for (const part of m[1]!.split(',')) {
    const kv = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part);
    if (!kv) return undefined;
    params.set(kv[1]!, kv[2]!);
  }
  const mchid = params.get('mchid');
  const nonceStr = params.get('nonce_str');
  const signature = params.get('signature');
  const timestamp = params.get('timestamp');
  const serialNo = params.get('serial_no');
  if (!mchid || !nonceStr || !signature || !timestamp || !serialNo) return undefined;
  return { mchid, nonceStr, signature, timestamp, serialNo };
}

export function verifyRequestSignature(publicKey: KeyObject, method: string, url: string, auth: AuthorizationParams, body: string): boolean {
  const message = `${method}\n${url}\n${auth.timestamp}\n${auth.nonceStr}\n${body}\n`;
  try {
    return verify('sha256', Buffer.from(message, 'utf8'), publicKey, Buffer.from(auth.signature, 'base64'));
  } catch {
    return false;
  }
}

/** The platform signature headers for an answer or notification body. */
export function platformSignatureHeaders(platform: PlatformIdentity, body: string, now: Date): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = randomBytes(16).toString('hex').toUpperCase();
  const signature = sign('sha256', Buffer.from(`${timestamp}\n${nonce}\n${body}\n`, 'utf8'), platform.privateKey).toString('base64');
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Serial': platform.serialNo,
    'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
  };
}

export interface EncryptedResource {
  algorithm: 'AEAD_AES_256_GCM';
  ciphertext: string;
  associated_data: string;
  nonce: string;
}

/** AEAD_AES_256_GCM with a 12-character nonce used as the IV bytes, as WeChat does. */
export function encryptResource(apiV3Key: string, plaintext: string, associatedData: string): EncryptedResource {
  const nonce = randomAlphanumeric(12);
  const c = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  c.setAAD(Buffer.from(associatedData, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final(), c.getAuthTag()]);
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext: ct.toString('base64'), associated_data: associatedData, nonce };
}
