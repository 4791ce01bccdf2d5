/**
 * Authenticates merchant-signed requests (the Paycore-Signature scheme of kernel/signature.ts).
 * The checks run in a fixed order, each with its own code, so a merchant debugging an
 * integration learns exactly what is wrong:
 *
 *   1. missing_signature   no Paycore-Signature header                                       401
 *   2. invalid_signature   the header is malformed                                           401
 *   3. unknown_key         no credential has this key_id                                     401
 *   4. key_disabled        the credential was revoked                                        403
 *   5. merchant_disabled   the merchant (or its customer) is not active                      403
 *   6. signature_expired   ts is more than the window (300 s) away from our clock           401
 *   7. invalid_signature   alg differs from the key's, or the signature does not verify      401
 *   8. replayed_nonce      this key already used this nonce                                  401
 *
 * The nonce is recorded only after the signature verified: otherwise anyone could burn a
 * merchant's future nonces with forged requests. Nonces must be kept for longer than twice the
 * window (a ts may be up to one window in the past or in the future); server.ts purges them
 * after 15 minutes.
 */
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../kernel/clock.js';
import { DomainError } from '../kernel/errors.js';
import { buildSigningString, parseSignatureHeader } from '../kernel/signature.js';
import type { Parties } from '../modules/parties/index.js';
import type { Principal } from './auth.js';

export interface MerchantAuthOptions {
  clock: Clock;
  /** Largest accepted distance between the request's ts and our clock, in seconds. */
  windowSeconds?: number;
}

export const DEFAULT_SIGNATURE_WINDOW_SECONDS = 300;

export function createMerchantAuth(
  parties: Pick<Parties, 'credentialForAuth' | 'recordNonce'>,
  opts: MerchantAuthOptions,
): (req: FastifyRequest) => Promise<Principal> {
  const windowSeconds = opts.windowSeconds ?? DEFAULT_SIGNATURE_WINDOW_SECONDS;
  return async (req) => {
    const raw = req.headers['paycore-signature'];
    const header = Array.isArray(raw) ? raw[0] : raw;
    if (header === undefined || header === '') throw new DomainError('missing_signature', 'this route needs a Paycore-Signature header');
    const parsed = parseSignatureHeader(header);
    if (!parsed.ok) throw new DomainError('invalid_signature', parsed.message);
    const p = parsed.value;

    const cred = await parties.credentialForAuth({ keyId: p.keyId });
    if (!cred.ok) throw new DomainError('unknown_key', `no credential has key_id ${p.keyId}`);
    const c = cred.value;
    if (c.status !== 'active') throw new DomainError('key_disabled', `key ${p.keyId} is disabled`);
    if (c.merchantStatus !== 'active' || c.customerStatus !== 'active') throw new DomainError('merchant_disabled', 'the merchant is not active');

    const nowSeconds = Math.floor(opts.clock.nowMs() / 1000);
    if (Math.abs(nowSeconds - p.ts) > windowSeconds) {
      throw new DomainError('signature_expired', `ts must be within ${windowSeconds} seconds of the server time`, { server_time: nowSeconds });
    }

    if (p.alg !== c.alg) throw new DomainError('invalid_signature', `key ${p.keyId} signs with ${c.alg}, not ${p.alg}`);
    const signingString = buildSigningString({ method: req.method, pathWithQuery: req.url, ts: p.ts, nonce: p.nonce, body: req.rawBody ?? '' });
    if (!c.verify(signingString, p.sig)) throw new DomainError('invalid_signature', 'the signature does not match the request');

    if (!(await parties.recordNonce({ keyId: p.keyId, nonce: p.nonce }))) throw new DomainError('replayed_nonce', 'this nonce was already used with this key');
    return { kind: 'merchant', merchantId: c.merchantId, keyId: c.keyId };
  };
}
