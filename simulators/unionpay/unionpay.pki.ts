/**
 * Keys and certificates for the UnionPay simulator. Real UnionPay signs answers and notifications
 * with a certificate issued under its root and middle CAs and sends that certificate along
 * (`signPubKeyCert`); merchants trust the root and middle certificates they downloaded
 * (acp_prod_root.cer, acp_prod_middle.cer). The simulator builds its own root -> middle -> signing
 * chain at start, with the production-style CN "041@<id>@中国银联股份有限公司@<seq>" so adapters can
 * keep the CN check on.
 *
 * Merchants sign with a key whose certificate serial number (decimal) is their `certId`; the
 * simulator only needs the public key for that certId.
 */
import 'reflect-metadata';
import { generateKeyPair, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import type * as X509 from '@peculiar/x509';
import type { UnionPayConfigJson } from '../../src/modules/channels/adapters/unionpay/unionpay.config.js';

let x509Module: Promise<typeof X509> | undefined;

/** Loads @peculiar/x509 after the Reflect shim is in place, and points it at Node's WebCrypto. */
function loadX509(): Promise<typeof X509> {
  x509Module ??= import('@peculiar/x509').then((m) => {
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  });
  return x509Module;
}

const RSA: webcrypto.RsaHashedKeyGenParams = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };

export interface UnionPayPlatform {
  rootCertPem: string;
  middleCertPem: string;
  /** UnionPay's signing certificate, sent as signPubKeyCert. */
  signCertPem: string;
  signKey: KeyObject;
}

/** One merchant as the simulator knows it: the public key behind its certId. */
export interface UnionPayMerchant {
  merId: string;
  certId: string;
  publicKeyPem: string;
}

async function rsaPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

function serialHex(): string {
  // A positive serial: clear the top bit.
  const b = randomBytes(8);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/** Builds a fresh root -> middle -> signing certificate chain (three RSA-2048 keys). */
export async function createUnionPayPlatform(): Promise<UnionPayPlatform> {
  const x509 = await loadX509();
  const [rootKeys, middleKeys, signKeys] = await Promise.all([rsaPair(), rsaPair(), rsaPair()]);
  const notBefore = new Date(Date.now() - 24 * 3600_000);
  const notAfter = new Date(Date.now() + 5 * 365 * 24 * 3600_000);
  const caExtensions = (keys: webcrypto.CryptoKeyPair) => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialHex(),
    name: 'C=CN, O=China UnionPay Simulator, CN=UnionPay Simulator Root CA',
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: RSA,
    extensions: await Promise.all(caExtensions(rootKeys)),
  });
  const middle = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex(),
    subject: 'C=CN, O=China UnionPay Simulator, CN=UnionPay Simulator Middle CA',
    issuer: root.subject,
    notBefore,
    notAfter,
    publicKey: middleKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: RSA,
    extensions: await Promise.all(caExtensions(middleKeys)),
  });
  const sign = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex(),
    subject: 'C=CN, O=CFCA OCA1, OU=UnionPay Simulator, OU=Enterprises, CN=041@8310000000008304@中国银联股份有限公司@00000001',
    issuer: middle.subject,
    notBefore,
    notAfter,
    publicKey: signKeys.publicKey,
    signingKey: middleKeys.privateKey,
    signingAlgorithm: RSA,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true)],
  });
  return {
    rootCertPem: root.toString('pem'),
    middleCertPem: middle.toString('pem'),
    signCertPem: sign.toString('pem'),
    signKey: KeyObject.from(signKeys.privateKey),
  };
}

const generateRsa = promisify(generateKeyPair);

/**
 * A fresh merchant: a signing key and certId for the simulator to register, and the adapter config
 * (the JSON a channel account stores) pointing at the simulator.
 */
export async function createUnionPayTestAccount(opts: {
  /** The running simulator's base URL. */
  baseUrl: string;
  trust: { rootCertPem: string; middleCertPem: string };
  merId?: string;
  defaultBackUrl?: string;
}): Promise<{ merchant: UnionPayMerchant; config: UnionPayConfigJson }> {
  const { publicKey, privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const merId = opts.merId ?? `777${String(randomBytes(6).readUIntBE(0, 6) % 1e12).padStart(12, '0')}`;
  const certId = BigInt(`0x${serialHex()}`).toString();
  return {
    merchant: { merId, certId, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    config: {
      merId,
      signCertId: certId,
      signPrivateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      rootCertPem: opts.trust.rootCertPem,
      middleCertPem: opts.trust.middleCertPem,
      validateCnName: true,
      backTransUrl: `${opts.baseUrl}/gateway/api/backTransReq.do`,
      singleQueryUrl: `${opts.baseUrl}/gateway/api/queryTrans.do`,
      fileTransUrl: `${opts.baseUrl}/`,
      channelType: '08',
      ...(opts.defaultBackUrl === undefined ? {} : { defaultBackUrl: opts.defaultBackUrl }),
    },
  };
}
