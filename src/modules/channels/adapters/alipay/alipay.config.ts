/**
 * The Alipay channel account configuration (what a channel account stores as JSON) and its
 * one-time validation. Keys may be given the way Alipay's key tool prints them (bare base64 DER:
 * PKCS#8 or PKCS#1 for the app private key, SubjectPublicKeyInfo for the Alipay public key) or as PEM.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { Secret } from '../../../../kernel/secret.js';

export interface AlipayConfig {
  /** The application id Alipay assigned (APPID, e.g. 2021000000000000). */
  appId: string;
  /** The OpenAPI gateway, e.g. https://openapi.alipay.com/gateway.do. */
  gatewayUrl: string;
  /** Our RSA2 app private key; wrapped so it never reaches a log. */
  appPrivateKey: Secret<KeyObject>;
  /** Alipay's public key (支付宝公钥) for response and notification signatures. */
  alipayPublicKey: KeyObject;
  /** The receiving Alipay account (PID, 2088 + 12 digits); when absent Alipay uses the app's signing account. */
  sellerId?: string;
}

type ParseResult = { ok: true; config: AlipayConfig } | { ok: false; message: string };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function parseAlipayConfig(raw: unknown): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, message: 'alipay config must be a JSON object' };
  const r = raw as Record<string, unknown>;
  const known = new Set(['appId', 'gatewayUrl', 'appPrivateKey', 'alipayPublicKey', 'sellerId']);
  const unknownKey = Object.keys(r).find((k) => !known.has(k));
  if (unknownKey !== undefined) return { ok: false, message: `alipay config has an unknown field ${unknownKey}` };

  const { appId, gatewayUrl, appPrivateKey, alipayPublicKey, sellerId } = r;
  if (typeof appId !== 'string' || !/^\d{10,32}$/.test(appId)) return { ok: false, message: 'appId must be the digits of the APPID Alipay assigned' };
  const gateway = checkGateway(gatewayUrl);
  if (typeof gateway !== 'string') return gateway;
  if (sellerId !== undefined && (typeof sellerId !== 'string' || !/^2088\d{12}$/.test(sellerId))) {
    return { ok: false, message: 'sellerId, when given, must be an Alipay PID (2088 followed by 12 digits)' };
  }
  const priv = readKey(appPrivateKey, 'private');
  if (!priv.ok) return { ok: false, message: `appPrivateKey: ${priv.message}` };
  const pub = readKey(alipayPublicKey, 'public');
  if (!pub.ok) return { ok: false, message: `alipayPublicKey: ${pub.message}` };
  const config: AlipayConfig = { appId, gatewayUrl: gateway, appPrivateKey: new Secret(priv.key), alipayPublicKey: pub.key };
  if (typeof sellerId === 'string') config.sellerId = sellerId;
  return { ok: true, config };
}

function checkGateway(v: unknown): string | { ok: false; message: string } {
  if (typeof v !== 'string') return { ok: false, message: 'gatewayUrl must be a URL such as https://openapi.alipay.com/gateway.do' };
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return { ok: false, message: 'gatewayUrl is not a valid URL' };
  }
  // Plain HTTP would expose signed requests and let anyone forge unsigned error answers; it is
  // allowed only on loopback, where the simulator runs.
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname))) {
    return { ok: false, message: 'gatewayUrl must use https (http only on a loopback address)' };
  }
  if (u.search !== '' || u.hash !== '') return { ok: false, message: 'gatewayUrl must not carry a query or fragment' };
  return u.toString();
}

function readKey(v: unknown, kind: 'private' | 'public'): { ok: true; key: KeyObject } | { ok: false; message: string } {
  if (typeof v !== 'string' || v.trim() === '') return { ok: false, message: 'must be a PEM or base64 DER RSA key' };
  const text = v.trim();
  // node derives a public key from a private one; a private key pasted as Alipay's public key is
  // a configuration mistake (and a leak), so it is refused rather than silently accepted.
  if (kind === 'public' && isPrivateKey(text)) return { ok: false, message: 'is a private key; expected Alipay\'s public key (支付宝公钥)' };
  const attempts: Array<() => KeyObject> = [];
  if (text.includes('-----BEGIN')) {
    attempts.push(() => (kind === 'private' ? createPrivateKey(text) : createPublicKey(text)));
  } else {
    if (!/^[A-Za-z0-9+/=\s]+$/.test(text)) return { ok: false, message: 'is neither PEM nor base64' };
    const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    if (kind === 'private') {
      attempts.push(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
      attempts.push(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs1' }));
    } else {
      attempts.push(() => createPublicKey({ key: der, format: 'der', type: 'spki' }));
      attempts.push(() => createPublicKey({ key: der, format: 'der', type: 'pkcs1' }));
    }
  }
  for (const attempt of attempts) {
    let key: KeyObject;
    try {
      key = attempt();
    } catch {
      continue;
    }
    if (key.asymmetricKeyType !== 'rsa') return { ok: false, message: 'must be an RSA key (RSA2 signatures)' };
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) return { ok: false, message: `must be at least 2048 bits for RSA2, got ${bits}` };
    return { ok: true, key };
  }
  return { ok: false, message: `could not be read as an RSA ${kind} key` };
}

function isPrivateKey(text: string): boolean {
  if (text.includes('-----BEGIN')) return text.includes('PRIVATE KEY');
  const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
  for (const type of ['pkcs8', 'pkcs1'] as const) {
    try {
      createPrivateKey({ key: der, format: 'der', type });
      return true;
    } catch {
      // not this encoding
    }
  }
  return false;
}
