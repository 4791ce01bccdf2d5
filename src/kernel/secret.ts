/**
 * Secrets (keys, PINs, card numbers) are wrapped so that logging, JSON serialisation or string
 * interpolation shows "[redacted]" instead of the value. Stored secrets are sealed with
 * AES-256-GCM under the master key; the sealed form names its version so keys can rotate.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

export class Secret<T = string> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

const SEAL_VERSION = 'v1';

export class MasterKey {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the master key must be 32 bytes');
    this.#key = Buffer.from(key);
  }
  static generate(): MasterKey {
    return new MasterKey(randomBytes(32));
  }
  static fromBase64(b64: string): MasterKey {
    return new MasterKey(Buffer.from(b64.trim(), 'base64'));
  }
  toBase64(): Secret {
    return new Secret(this.#key.toString('base64'));
  }

  /**
   * A separate key for one purpose (e.g. keyed lookup hashes), derived with HKDF-SHA256 so the
   * master key itself never leaves this class.
   */
  deriveKey(info: string, length = 32): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), info, length));
  }

  /** Seals plaintext; `context` (e.g. a credential id) is bound as associated data. */
  seal(plaintext: Buffer | string, context: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([c.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), c.final()]);
    return [SEAL_VERSION, iv.toString('base64'), c.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
  }

  open(sealed: string, context: string): Buffer {
    const [v, ivB, tagB, ctB] = sealed.split(':');
    if (v !== SEAL_VERSION || !ivB || !tagB || ctB === undefined) throw new Error('unknown sealed secret format');
    const d = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(ivB, 'base64'));
    d.setAAD(Buffer.from(context, 'utf8'));
    d.setAuthTag(Buffer.from(tagB, 'base64'));
    return Buffer.concat([d.update(Buffer.from(ctB, 'base64')), d.final()]);
  }

  [inspect.custom](): string {
    return 'MasterKey([redacted])';
  }
  toJSON(): string {
    return '[redacted]';
  }
}

/** Constant-time comparison of two strings (tokens, signatures). */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ba.length !== bb.length) return false;
  return timingSafeEqual(ba, bb);
}
