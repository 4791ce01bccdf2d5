/**
 * Keys and certificates for the WeChat Pay simulator: the platform identity (a real X.509
 * certificate, as WeChat's 平台证书 is, with a 40-digit upper-case hex serial) and fresh merchant
 * test accounts (merchant RSA key and API-certificate serial, APIv3 key, mchid, appid).
 */
import 'reflect-metadata';
import { generateKeyPair, randomBytes, webcrypto, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/** The simulator's platform signing identity. The private key never leaves the simulator. */
export interface PlatformIdentity {
  serialNo: string;
  certificatePem: string;
  privateKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
}

/** What the simulator needs to know about one merchant (商户号) to verify and encrypt for it. */
export interface WechatPayMerchant {
  mchid: string;
  appid: string;
  /** Serial of the merchant API certificate (商户API证书序列号), upper-case hex. */
  serialNo: string;
  publicKeyPem: string;
  /** The 32-character APIv3 key. */
  apiV3Key: string;
}

/** The channel account JSON the adapter's parseConfig reads. */
export interface WechatPayAccountConfig {
  baseUrl: string;
  mchid: string;
  appid: string;
  merchantSerialNo: string;
  merchantPrivateKeyPem: string;
  apiV3Key: string;
  platformCertificates: string[];
}

export interface WechatPayTestAccount {
  merchant: WechatPayMerchant;
  config: WechatPayAccountConfig;
  /** For tests that need to check JSAPI paySign or forge requests: the merchant's own key pair. */
  merchantPrivateKeyPem: string;
}

/** 20 random bytes as 40 upper-case hex digits, first digit non-zero so the serial keeps its length. */
export function randomSerial(): string {
  const b = randomBytes(20);
  b[0] = (b[0]! & 0x6f) | 0x10;
  return b.toString('hex').toUpperCase();
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlphanumeric(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHANUM[b % ALPHANUM.length];
  return out;
}

export function randomDigits(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += String(b % 10);
  return out;
}

/** Generates the platform key and a self-signed certificate (RSA 2048, SHA256withRSA) valid for five years. */
export async function generatePlatformIdentity(now = new Date()): Promise<PlatformIdentity> {
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const serialNo = randomSerial();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNo.toLowerCase(),
    name: 'C=CN, ST=Guangdong, L=Shenzhen, O=Tenpay.com, OU=Tenpay.com CA Center, CN=Tenpay.com sign (simulator)',
    notBefore: new Date(now.getTime() - 86_400_000),
    notAfter: new Date(now.getTime() + 5 * 365 * 86_400_000),
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    signingAlgorithm: alg,
  });
  const certificatePem = cert.toString('pem');
  const parsed = new X509Certificate(certificatePem);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    serialNo: parsed.serialNumber.toUpperCase(),
    certificatePem,
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    notBefore: new Date(parsed.validFrom),
    notAfter: new Date(parsed.validTo),
  };
}

/**
 * A fresh merchant: RSA 2048 key pair, certificate serial, APIv3 key, 10-digit mchid and an appid.
 * Returns what the simulator registers (`merchant`) and the adapter's account JSON (`config`)
 * pointing at the simulator.
 */
export async function createWechatPayTestAccount(opts: { baseUrl: string; platformCertificatePem: string; mchid?: string; appid?: string }): Promise<WechatPayTestAccount> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const merchantPrivateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const merchant: WechatPayMerchant = {
    mchid: opts.mchid ?? `19${randomDigits(8)}`,
    appid: opts.appid ?? `wx${randomBytes(8).toString('hex')}`,
    serialNo: randomSerial(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    apiV3Key: randomAlphanumeric(32),
  };
  const config: WechatPayAccountConfig = {
    baseUrl: opts.baseUrl,
    mchid: merchant.mchid,
    appid: merchant.appid,
    merchantSerialNo: merchant.serialNo,
    merchantPrivateKeyPem,
    apiV3Key: merchant.apiV3Key,
    platformCertificates: [opts.platformCertificatePem],
  };
  return { merchant, config, merchantPrivateKeyPem };
}
