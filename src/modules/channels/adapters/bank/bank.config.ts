/**
 * The bank channel account configuration: our merchant number and signing key registered with the
 * bank, the bank's public keys by id (more than one during a key rotation), and the API base URL.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { Secret } from '../../../../kernel/secret.js';

export interface BankConfig {
  merchantId: string;
  keyId: string;
  privateKey: Secret<KeyObject>;
  bankPublicKeys: Map<string, KeyObject>;
  /** e.g. https://openapi.simbank.example — no trailing slash. */
  baseUrl: string;
}

export interface BankConfigJson {
  merchantId: string;
  keyId: string;
  privateKeyPem: string;
  /** Bank key id -> PEM public key. */
  bankPublicKeys: Record<string, string>;
  baseUrl: string;
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseBankConfig(raw: unknown): { ok: true; config: BankConfig } | { ok: false; message: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, message: 'bank config must be a JSON object' };
  const o = raw as Record<string, unknown>;
  const merchantId = o['merchantId'];
  if (typeof merchantId !== 'string' || !ID.test(merchantId)) return { ok: false, message: 'merchantId must be 1-64 characters [A-Za-z0-9_.-]' };
  const keyId = o['keyId'];
  if (typeof keyId !== 'string' || !ID.test(keyId)) return { ok: false, message: 'keyId must be 1-64 characters [A-Za-z0-9_.-]' };
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(typeof o['privateKeyPem'] === 'string' ? o['privateKeyPem'] : '');
  } catch {
    return { ok: false, message: 'privateKeyPem must be a PEM private key' };
  }
  if (privateKey.asymmetricKeyType !== 'rsa') return { ok: false, message: 'privateKeyPem must be an RSA key (RSA-SHA256)' };
  const keys = o['bankPublicKeys'];
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys) || Object.keys(keys).length === 0) {
    return { ok: false, message: 'bankPublicKeys must map at least one bank key id to its PEM public key' };
  }
  const bankPublicKeys = new Map<string, KeyObject>();
  for (const [id, pem] of Object.entries(keys)) {
    if (!ID.test(id)) return { ok: false, message: `bank key id ${JSON.stringify(id)} must be 1-64 characters [A-Za-z0-9_.-]` };
    try {
      bankPublicKeys.set(id, createPublicKey(typeof pem === 'string' ? pem : ''));
    } catch {
      return { ok: false, message: `bankPublicKeys.${id} must be a PEM public key` };
    }
  }
  const baseUrl = o['baseUrl'];
  let parsedUrl: URL | undefined;
  try {
    parsedUrl = typeof baseUrl === 'string' ? new URL(baseUrl) : undefined;
  } catch {
    parsedUrl = undefined;
  }
  if (!parsedUrl || (parsedUrl.protocol !== 'https:' && parsedUrl.protocol !== 'http:') || parsedUrl.search || parsedUrl.hash) {
    return { ok: false, message: 'baseUrl must be an http(s) URL without query or fragment' };
  }
  return { ok: true, config: { merchantId, keyId, privateKey: new Secret(privateKey), bankPublicKeys, baseUrl: (baseUrl as string).replace(/\/+$/, '') } };
}
