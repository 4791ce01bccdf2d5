/**
 * The default rule pack (默认规则包), documented rule by rule in docs/risk.md. Load it with
 * `paycore risk load-default` (or POST it to /v1/risk/rule-sets) and activate it; tune the
 * thresholds to your own traffic by uploading a new version.
 */
import type { RuleSetDoc } from './domain/ruleset.js';

export const DEFAULT_RULE_PACK: RuleSetDoc = {
  name: 'paycore-default',
  description: 'Card testing and stolen cards, anti-brushing (刷单), merchant compliance, merchant breaker.',
  velocity: [
    { name: 'card_attempts_1h', kind: 'count', key: 'card', window: '1h' },
    { name: 'card_small_10m', kind: 'count', key: 'card', window: '10m', where: 'amount < 500' },
    { name: 'card_fail_1h', kind: 'count', key: 'card', window: '1h', where: 'failed' },
    { name: 'device_cards_24h', kind: 'distinct', key: 'device', of: 'card', window: '24h' },
    { name: 'device_small_10m', kind: 'count', key: 'device', window: '10m', where: 'amount < 500' },
    { name: 'device_users_24h', kind: 'distinct', key: 'device', of: 'user', window: '24h' },
    { name: 'ip_users_1h', kind: 'distinct', key: 'ip', of: 'user', window: '1h' },
    { name: 'user_device_30d', kind: 'count', key: ['user', 'device'], window: '30d' },
    { name: 'merchant_tiny_10m', kind: 'count', key: 'merchant', window: '10m', where: 'amount < 100' },
    { name: 'merchant_amount_10m', kind: 'sum', key: 'merchant', window: '10m', where: 'kind != "refund"' },
    { name: 'merchant_amount_7d', kind: 'sum', key: 'merchant', window: '7d', where: 'kind != "refund"' },
    { name: 'merchant_payments_24h', kind: 'count', key: 'merchant', window: '24h', where: 'kind != "refund"' },
    { name: 'merchant_refunds_24h', kind: 'count', key: 'merchant', window: '24h', where: 'kind == "refund"' },
  ],
  features: [
    { name: 'new_device', expr: 'user != "" && device != "" && user_device_30d == 1' },
    // The last 10 minutes against the merchant's own 7-day average per 10 minutes (1,008 of them).
    { name: 'merchant_spike', expr: 'merchant_amount_10m > 1000000 && merchant_amount_10m * 1008 > merchant_amount_7d * 5' },
    { name: 'refund_rate_pct', expr: 'merchant_payments_24h > 0 ? merchant_refunds_24h * 100 / merchant_payments_24h : 0' },
    { name: 'category_mismatch', expr: 'merchant_mcc != "" && category != "" && category != merchant_mcc' },
  ],
  scorecards: [
    {
      name: 'tx_score',
      dimensions: [
        { feature: 'card_attempts_1h', weight: 3, buckets: [{ below: 4, points: 0 }, { below: 10, points: 50 }, { points: 100 }] },
        { feature: 'device_cards_24h', weight: 3, buckets: [{ below: 2, points: 0 }, { below: 3, points: 60 }, { points: 100 }] },
        { feature: 'card_fail_1h', weight: 2, buckets: [{ below: 1, points: 0 }, { below: 3, points: 50 }, { points: 100 }] },
        { feature: 'new_device', weight: 1, buckets: [{ below: 1, points: 0 }, { points: 60 }] },
        { feature: 'amount', weight: 1, buckets: [{ below: 100000, points: 0 }, { below: 1000000, points: 40 }, { points: 100 }] },
      ],
    },
    {
      name: 'merchant_score',
      dimensions: [
        { feature: 'merchant_spike', weight: 3, buckets: [{ below: 1, points: 0 }, { points: 100 }] },
        { feature: 'refund_rate_pct', weight: 2, buckets: [{ below: 10, points: 0 }, { below: 30, points: 50 }, { points: 100 }] },
        { feature: 'merchant_tiny_10m', weight: 2, buckets: [{ below: 10, points: 0 }, { below: 30, points: 60 }, { points: 100 }] },
        { feature: 'category_mismatch', weight: 1, buckets: [{ below: 1, points: 0 }, { points: 100 }] },
      ],
    },
  ],
  rules: [
    { id: 'MC-01', priority: 10, action: 'reject', when: '!notify_url_ok || !return_url_ok', reason: 'notification or return URL outside the merchant\'s registered domains' },
    { id: 'CT-01', priority: 20, action: 'reject', when: 'card_small_10m >= 5', reason: 'card testing: many small attempts on one card' },
    { id: 'CT-02', priority: 21, action: 'reject', when: 'device_cards_24h >= 4', reason: 'card testing: many cards used from one device' },
    { id: 'CT-03', priority: 22, action: 'reject', when: 'device_small_10m >= 8 && device_cards_24h >= 3', reason: 'card testing: a burst of small payments from one device with several cards' },
    { id: 'SC-01', priority: 30, action: 'challenge', when: 'card_fail_1h >= 3', reason: 'stolen card: repeated failures on one card' },
    { id: 'SC-02', priority: 31, action: 'challenge', when: 'new_device && amount >= 500000', reason: 'stolen card: a large amount from a device new to this user' },
    { id: 'BR-01', priority: 40, action: 'review', when: 'device_users_24h >= 4', reason: 'brushing (刷单): one device behind many accounts' },
    { id: 'BR-02', priority: 41, action: 'review', when: 'ip_users_1h >= 8', reason: 'brushing (刷单): one IP behind many accounts' },
    { id: 'BR-03', priority: 42, action: 'review', when: 'merchant_tiny_10m >= 30', reason: 'brushing (刷单): a burst of tiny orders at one merchant' },
    { id: 'MC-02', priority: 50, action: 'review', when: 'category_mismatch', reason: 'the transaction\'s category does not match the merchant\'s registered business' },
    { id: 'MC-03', priority: 51, action: 'review', when: 'refund_rate_pct >= 30 && merchant_payments_24h >= 20', reason: 'merchant refund rate spike (24 h)' },
    { id: 'MC-04', priority: 52, action: 'review', when: 'merchant_spike', reason: 'merchant volume spike against its own 7-day baseline' },
  ],
  thresholds: [{ score: 'tx_score', at_least: 80, action: 'review' }],
  breaker: { score: 'merchant_score', at_least: 80, mode: 'hold' },
};
