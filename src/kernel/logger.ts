/** Structured JSON logs (pino). Secret-bearing fields are redacted by path as a second line of defence. */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'password',
  '*.password',
  'pin',
  '*.pin',
  'card_number',
  '*.card_number',
  'token',
  '*.token',
  'id_number',
  '*.id_number',
  'req.headers.authorization',
  'req.headers["paycore-signature"]',
  'headers.authorization',
];

export function createLogger(level: string = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'paycore', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
