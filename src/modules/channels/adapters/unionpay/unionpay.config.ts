/**
 * The UnionPay channel account configuration (the JSON a channel account stores) and its check.
 * Field names follow UnionPay's SDK properties where there is one (acpsdk.backTransUrl,
 * acpsdk.singleQueryUrl, acpsdk.fileTransUrl, acpsdk.ifValidateCNName); the signing key is the
 * private key taken out of the merchant's .pfx, and `signCertId` is that certificate's serial
 * number in decimal (what the SDK puts in `certId`).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { Secret } from '../../../../kernel/secret.js';
import type { AcpTrust } from './unionpay.codec.js';

export interface UnionPayConfig {
  /** 15-character merchant code (商户代码). */
  merId: string;
  /** Decimal serial number of our signing certificate (certId). */
  signCertId: string;
  signKey: Secret<KeyObject>;
  trust: AcpTrust;
  /** https://gateway.95516.com/gateway/api/backTransReq.do in production. */
  backTransUrl: string;
  /** https://gateway.95516.com/gateway/api/queryTrans.do in production. */
  singleQueryUrl: string;
  /** https://filedownload.95516.com/ in production. */
  fileTransUrl: string;
  /** 07 internet (PC), 08 mobile. */
  channelType: '07' | '08';
  /** backUrl for refunds when the refund request names no notify URL. */
  defaultBackUrl?: string;
}

export interface UnionPayConfigJson {
  merId: string;
  signCertId: string;
  signPrivateKeyPem: string;
  rootCertPem: string;
  middleCertPem: string;
  validateCnName?: boolean;
  backTransUrl: string;
  singleQueryUrl: string;
  fileTransUrl: string;
  channelType?: '07' | '08';
  defaultBackUrl?: string;
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function httpUrl(v: string | undefined): boolean {
  if (v === undefined) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

export function parseUnionPayConfig(raw: unknown): { ok: true; config: UnionPayConfig } | { ok: false; message: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, message: 'unionpay config must be a JSON object' };
  const o = raw as Record<string, unknown>;
  const merId = str(o, 'merId');
  if (!merId || !/^[0-9A-Za-z]{15}$/.test(merId)) return { ok: false, message: 'merId must be the 15-character UnionPay merchant code' };
  const signCertId = str(o, 'signCertId');
  if (!signCertId || !/^\d{1,128}$/.test(signCertId)) return { ok: false, message: 'signCertId must be the decimal serial number of the signing certificate' };
  let signKey: KeyObject;
  try {
    signKey = createPrivateKey(str(o, 'signPrivateKeyPem') ?? '');
  } catch {
    return { ok: false, message: 'signPrivateKeyPem must be a PEM private key (the key from the merchant signing .pfx)' };
  }
  if (signKey.asymmetricKeyType !== 'rsa') return { ok: false, message: 'signPrivateKeyPem must be an RSA key (signMethod 01)' };
  let rootCert: X509Certificate;
  let middleCert: X509Certificate;
  try {
    rootCert = new X509Certificate(str(o, 'rootCertPem') ?? '');
  } catch {
    return { ok: false, message: 'rootCertPem must be UnionPay root certificate in PEM (acp_prod_root.cer)' };
  }
  try {
    middleCert = new X509Certificate(str(o, 'middleCertPem') ?? '');
  } catch {
    return { ok: false, message: 'middleCertPem must be UnionPay middle certificate in PEM (acp_prod_middle.cer)' };
  }
  if (!middleCert.checkIssued(rootCert) || !middleCert.verify(rootCert.publicKey)) return { ok: false, message: 'middleCertPem is not issued by rootCertPem' };
  const validateCnName = o['validateCnName'] ?? true;
  if (typeof validateCnName !== 'boolean') return { ok: false, message: 'validateCnName must be true or false' };
  for (const k of ['backTransUrl', 'singleQueryUrl', 'fileTransUrl'] as const) {
    if (!httpUrl(str(o, k))) return { ok: false, message: `${k} must be an http(s) URL` };
  }
  const channelType = o['channelType'] ?? '08';
  if (channelType !== '07' && channelType !== '08') return { ok: false, message: 'channelType must be "07" (PC) or "08" (mobile)' };
  const defaultBackUrl = str(o, 'defaultBackUrl');
  if (o['defaultBackUrl'] !== undefined && !httpUrl(defaultBackUrl)) return { ok: false, message: 'defaultBackUrl must be an http(s) URL' };
  return {
    ok: true,
    config: {
      merId,
      signCertId,
      signKey: new Secret(signKey),
      trust: { rootCert, middleCert, validateCnName },
      backTransUrl: str(o, 'backTransUrl')!,
      singleQueryUrl: str(o, 'singleQueryUrl')!,
      fileTransUrl: str(o, 'fileTransUrl')!,
      channelType,
      ...(defaultBackUrl === undefined ? {} : { defaultBackUrl }),
    },
  };
}
