/**
 * The velocity store shared by several processes: Redis (ioredis), one sorted set per window and
 * key, scored by event time, one member per event (so an event id counts once however often it is
 * observed). One Lua script per decision adds the event to each window it counts in, trims what is
 * older than the window plus the late-event grace, and answers each window's value over (t - W, t]
 * — the same semantics as the in-memory store, tested against it.
 *
 * Cost: count is O(log n); sum and distinct scan the window's entries in Redis (O(n)), fine for
 * per-card or per-device windows, heavier for a busy merchant's long window.
 */
import { Redis } from 'ioredis';
import type { Observation, VelocityStore } from './domain/velocity.js';

const GRACE_MS = 60_000;

// KEYS[i]: the window's sorted set. ARGV per key: kind, windowMs, at, entry, value, add.
// An entry is `value:bytes:member` followed by the event id: the value is a number and the member is
// length-prefixed, so neither a member nor an event id can break the parsing, whatever it holds.
const SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local b = (i - 1) * 6
  local kind = ARGV[b + 1]
  local w = tonumber(ARGV[b + 2])
  local at = tonumber(ARGV[b + 3])
  local entry = ARGV[b + 4]
  local add = ARGV[b + 6] == '1'
  if add then
    redis.call('ZADD', key, 'NX', at, entry)
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    local top = tonumber(newest[2])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', top - w - ${GRACE_MS})
    redis.call('PEXPIRE', key, w + ${GRACE_MS} * 2)
  end
  local lo = '(' .. tostring(at - w)
  local hi = tostring(at)
  if kind == 'count' then
    out[i] = redis.call('ZCOUNT', key, lo, hi)
  else
    local items = redis.call('ZRANGEBYSCORE', key, lo, hi)
    if kind == 'sum' then
      local s = 0
      for _, e in ipairs(items) do
        s = s + tonumber(string.match(e, '^([^:]*):'))
      end
      out[i] = s
    else
      local seen = {}
      local n = 0
      for _, e in ipairs(items) do
        local v, len, rest = string.match(e, '^([^:]*):(%d+):()')
        local m = string.sub(e, rest, rest + tonumber(len) - 1)
        if not seen[m] then
          seen[m] = true
          n = n + 1
        end
      end
      out[i] = n
    end
  end
end
return out
`;

export class RedisVelocityStore implements VelocityStore {
  private readonly redis: Redis;

  constructor(url: string, private readonly prefix = 'paycore:velocity:') {
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
    this.redis.defineCommand('pcVelocity', { lua: SCRIPT });
  }

  async observe(obs: readonly (Observation | null)[]): Promise<number[]> {
    const idx: number[] = [];
    const keys: string[] = [];
    const args: string[] = [];
    obs.forEach((o, i) => {
      if (!o) return;
      idx.push(i);
      keys.push(`${this.prefix}${o.window}:${o.key}`);
      args.push(o.kind, String(o.windowMs), String(o.at), `${o.value}:${Buffer.byteLength(o.member)}:${o.member}${o.eventId}`, String(o.value), o.add ? '1' : '0');
    });
    const out = new Array<number>(obs.length).fill(0);
    if (keys.length === 0) return out;
    const r = (await (this.redis as unknown as { pcVelocity(n: number, ...a: string[]): Promise<number[]> }).pcVelocity(keys.length, ...keys, ...args)) ;
    idx.forEach((i, k) => (out[i] = Number(r[k] ?? 0)));
    return out;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
