/**
 * Checks an RSA public key a merchant registers for RSA-SHA256 request signatures. Only a
 * public key is accepted: node's createPublicKey would happily derive a public key from a
 * pasted private key, and we must never accept (or have seen) a merchant's private key without
 * telling them it is compromised.
 */
import { createPublicKey } from 'node:crypto';
import { fail, ok, type Result } from '../../../kernel/errors.js';

export const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
const MAX_PEM_LENGTH = 16_384;

export function checkRsaPublicKey(pem: string): Result<{ pem: string; bits: number }, 'invalid_public_key'> {
  const bad = (why: string): Result<{ pem: string; bits: number }, 'invalid_public_key'> => fail('invalid_public_key', why);
  if (pem.length > MAX_PEM_LENGTH) return bad('the public key PEM is too long');
  if (/PRIVATE KEY/.test(pem)) return bad('this is a private key: send only the public key, and treat the private key as compromised');
  if (!/^-----BEGIN (RSA )?PUBLIC KEY-----/.test(pem.trim())) return bad('public_key_pem must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  let key;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return bad('public_key_pem is not a readable PEM public key');
  }
  if (key.asymmetricKeyType !== 'rsa') return bad(`the key is ${key.asymmetricKeyType ?? 'of an unknown type'}, not RSA`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return bad(`the RSA key has ${bits} bits; ${MIN_RSA_BITS}-${MAX_RSA_BITS} are accepted`);
  // Stored re-encoded as SPKI so every key has one canonical form, whatever the merchant sent.
  return ok({ pem: key.export({ type: 'spki', format: 'pem' }).toString(), bits });
}
