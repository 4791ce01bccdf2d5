/**
 * Test credentials: a fresh RSA2 key pair per merchant app, in the shapes both sides need — the
 * registration the simulator keeps (app id, PID, app public key) and the channel account config
 * the adapter reads (app private key and Alipay's public key, as Alipay's key tool prints them:
 * bare base64 DER, PKCS#8 private key and SubjectPublicKeyInfo public key).
 */
import { generateKeyPairSync, randomInt, type KeyObject } from 'node:crypto';

export interface AlipayAppRegistration {
  appId: string;
  /** The merchant's Alipay account id (PID, 2088 + 12 digits); it names the bill files. */
  pid: string;
  /** The app public key (应用公钥) the merchant uploaded, PEM or base64 SPKI. */
  appPublicKey: string;
}

/** The JSON a channel account stores for this merchant (see AlipayConfig in the adapter). */
export interface AlipayAccountConfigJson {
  appId: string;
  gatewayUrl: string;
  appPrivateKey: string;
  alipayPublicKey: string;
  sellerId: string;
}

export interface AlipayTestAccount {
  registration: AlipayAppRegistration;
  config: AlipayAccountConfigJson;
}

export function rsaKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

export function publicKeyBase64(key: KeyObject): string {
  return key.export({ format: 'der', type: 'spki' }).toString('base64');
}

function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

/**
 * Generates one merchant app. `target` is the running simulator (its gateway URL and Alipay public
 * key); register `registration` with it (`sim.registerApp`) before calling the gateway.
 */
export function createAlipayTestAccount(target: { gatewayUrl: string; alipayPublicKey: string }, opts: { appId?: string; pid?: string } = {}): AlipayTestAccount {
  const { privateKey, publicKey } = rsaKeyPair();
  const appId = opts.appId ?? `2021${digits(12)}`;
  const pid = opts.pid ?? `2088${digits(12)}`;
  return {
    registration: { appId, pid, appPublicKey: publicKeyBase64(publicKey) },
    config: {
      appId,
      gatewayUrl: target.gatewayUrl,
      appPrivateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      alipayPublicKey: target.alipayPublicKey,
      sellerId: pid,
    },
  };
}
