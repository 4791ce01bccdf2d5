/**
 * The WeChat Pay (APIv3, directly-connected merchant / 直连商户) channel account configuration:
 * what a channel account stores as JSON, and its parsed, checked form.
 *
 * Stored JSON (every field required unless noted):
 *
 *   {
 *     "baseUrl": "https://api.mch.weixin.qq.com",       // or api2.mch.weixin.qq.com, or a simulator
 *     "mchid": "1900000001",                              // 直连商户号
 *     "appid": "wx8888888888888888",                      // the 公众号/小程序 AppID bound to the mchid
 *     "merchantSerialNo": "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",  // 商户API证书序列号
 *     "merchantPrivateKeyPem": "-----BEGIN PRIVATE KEY-----...",        // apiclient_key.pem
 *     "apiV3Key": "32 characters",                        // APIv3 密钥 (AEAD_AES_256_GCM key)
 *     "platformCertificates": ["-----BEGIN CERTIFICATE-----..."]       // 微信支付平台证书 (≥ 1)
 *   }
 *
 * The platform certificates are what every answer and notification is verified against, by the
 * serial number in Wechatpay-Serial. During a certificate rotation WeChat signs with either the
 * old or the new certificate, so an account holds all current ones; `wechat-pay.certificates.ts`
 * downloads them (GET /v3/certificates) with the credentials alone.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { Secret } from '../../../../kernel/secret.js';

export interface WechatPayPlatformCertificate {
  /** Upper-case hex, as WeChat shows it in Wechatpay-Serial. */
  serialNo: string;
  publicKey: KeyObject;
  pem: string;
  notBefore: Date;
  notAfter: Date;
}

/** What it takes to sign requests and decrypt resources: enough to bootstrap the platform certificates. */
export interface WechatPayCredentials {
  /** Without a trailing slash. */
  baseUrl: string;
  mchid: string;
  merchantSerialNo: string;
  merchantPrivateKey: Secret<KeyObject>;
  /** The 32 bytes of the APIv3 key. */
  apiV3Key: Secret<Buffer>;
}

export interface WechatPayConfig extends WechatPayCredentials {
  appid: string;
  platformCertificates: readonly WechatPayPlatformCertificate[];
}

type Parsed<T> = { ok: true; config: T } | { ok: false; message: string };

const MCHID_RE = /^[0-9]{1,32}$/;
const APPID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const SERIAL_RE = /^[0-9A-Fa-f]{1,64}$/;

function field(raw: Record<string, unknown>, name: string): string | undefined {
  const v = raw[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** Parses the part of the account JSON needed to sign requests (everything but appid and platform certificates). */
export function parseWechatPayCredentials(raw: unknown): Parsed<WechatPayCredentials> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, message: 'wechatpay config must be a JSON object' };
  const r = raw as Record<string, unknown>;
  const baseUrl = field(r, 'baseUrl');
  if (!baseUrl) return { ok: false, message: 'baseUrl is required (e.g. https://api.mch.weixin.qq.com)' };
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return { ok: false, message: 'baseUrl must be an absolute http(s) URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, message: 'baseUrl must be an absolute http(s) URL' };
  if (url.search || url.hash) return { ok: false, message: 'baseUrl must not carry a query or fragment' };
  const mchid = field(r, 'mchid');
  if (!mchid || !MCHID_RE.test(mchid)) return { ok: false, message: 'mchid must be the merchant number (digits, at most 32)' };
  const serial = field(r, 'merchantSerialNo');
  if (!serial || !SERIAL_RE.test(serial)) return { ok: false, message: 'merchantSerialNo must be the merchant API certificate serial number (hex)' };
  const pem = field(r, 'merchantPrivateKeyPem');
  if (!pem) return { ok: false, message: 'merchantPrivateKeyPem is required (the apiclient_key.pem text)' };
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    return { ok: false, message: 'merchantPrivateKeyPem is not a readable PEM private key' };
  }
  if (key.asymmetricKeyType !== 'rsa') return { ok: false, message: 'merchantPrivateKeyPem must be an RSA key' };
  const v3 = r['apiV3Key'];
  if (typeof v3 !== 'string' || Buffer.byteLength(v3, 'utf8') !== 32) return { ok: false, message: 'apiV3Key must be the 32-character APIv3 key' };
  return {
    ok: true,
    config: {
      baseUrl: baseUrl.replace(/\/+$/, ''),
      mchid,
      merchantSerialNo: serial.toUpperCase(),
      merchantPrivateKey: new Secret(key),
      apiV3Key: new Secret(Buffer.from(v3, 'utf8')),
    },
  };
}

/** Reads one PEM certificate as a platform certificate (RSA public key, upper-case serial, validity). */
export function readPlatformCertificate(pem: string): WechatPayPlatformCertificate | undefined {
  try {
    const cert = new X509Certificate(pem);
    if (cert.publicKey.asymmetricKeyType !== 'rsa') return undefined;
    return {
      serialNo: cert.serialNumber.toUpperCase(),
      publicKey: cert.publicKey,
      pem: cert.toString(),
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
    };
  } catch {
    return undefined;
  }
}

export function parseWechatPayConfig(raw: unknown): Parsed<WechatPayConfig> {
  const creds = parseWechatPayCredentials(raw);
  if (!creds.ok) return creds;
  const r = raw as Record<string, unknown>;
  const appid = field(r, 'appid');
  if (!appid || !APPID_RE.test(appid)) return { ok: false, message: 'appid must be the AppID bound to the merchant (at most 32 characters)' };
  const list = r['platformCertificates'];
  if (!Array.isArray(list) || list.length === 0) {
    return { ok: false, message: 'platformCertificates must list at least one WeChat Pay platform certificate (PEM); download them with the certificate helper' };
  }
  const certs: WechatPayPlatformCertificate[] = [];
  for (const [i, item] of list.entries()) {
    const cert = typeof item === 'string' ? readPlatformCertificate(item) : undefined;
    if (!cert) return { ok: false, message: `platformCertificates[${i}] is not a PEM X.509 certificate with an RSA key` };
    certs.push(cert);
  }
  return { ok: true, config: { ...creds.config, appid, platformCertificates: certs } };
}
