/**
 * The velocity store shared by several processes: Redis (ioredis), one sorted set per window and
 * key, scored by event time. One Lua script per decision adds the event to each window it counts in,
 * trims what is older than the window plus the late-event grace, and answers each window's value
 * over (t - W, t]; an event id counts at most once in a window within RETRY_MS of its first
 * observation — the same semantics as the in-memory store, tested against it.
 *
 * Cost: count is O(log n); sum and distinct scan the window's entries in Redis (O(n)), fine for
 * per-card or per-device windows, heavier for a busy merchant's long window.
 */
import { Redis } from 'ioredis';
import { LATE_GRACE_MS, RETRY_MS, type Observation, type VelocityStore } from './domain/velocity.js';

const GRACE_MS = LATE_GRACE_MS;

// KEYS: per window its sorted set, then the key that remembers the event's id (`seen:<id>`).
// ARGV per window: kind, windowMs, at, entry, value, add. An entry is `value:bytes:member` followed by
// the event id and `@at`: the value is a number and the member is length-prefixed, so neither a
// member nor an event id can break the parsing, whatever it holds; the time keeps an event observed
// again after RETRY_MS (which counts again) apart from its first observation.
// An event id counts at most once in a window within RETRY_MS of its first observation (by event
// time), as in the in-memory store: its seen key is a hash of that first time (field '@') and the
// windows it was counted in (a field each), and expires in real time a little after RETRY_MS.
const SCRIPT = `
local out = {}
local fresh = {}
local n = #KEYS / 2
for i = 1, n do
  local key = KEYS[2 * i - 1]
  local seenKey = KEYS[2 * i]
  local b = (i - 1) * 6
  local kind = ARGV[b + 1]
  local w = tonumber(ARGV[b + 2])
  local at = tonumber(ARGV[b + 3])
  local entry = ARGV[b + 4]
  local add = ARGV[b + 6] == '1'
  if fresh[seenKey] == nil then
    local first = redis.call('HGET', seenKey, '@')
    if not first or tonumber(first) <= at - ${RETRY_MS} then
      redis.call('DEL', seenKey)
      redis.call('HSET', seenKey, '@', tostring(at))
    end
    redis.call('PEXPIRE', seenKey, ${RETRY_MS + 2 * GRACE_MS})
    fresh[seenKey] = true
  end
  -- Counted in this window already (a retry, or the decision an outcome of the same id follows).
  if add and redis.call('HSETNX', seenKey, key, '1') == 0 then add = false end
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
      local c = 0
      for _, e in ipairs(items) do
        local v, len, rest = string.match(e, '^([^:]*):(%d+):()')
        local m = string.sub(e, rest, rest + tonumber(len) - 1)
        if not seen[m] then
          seen[m] = true
          c = c + 1
        end
      end
      out[i] = c
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
      keys.push(`${this.prefix}${o.window}:${o.key}`, `${this.prefix}seen:${o.eventId}`);
      args.push(o.kind, String(o.windowMs), String(o.at), `${o.value}:${Buffer.byteLength(o.member)}:${o.member}${o.eventId}@${o.at}`, String(o.value), o.add ? '1' : '0');
    });
    const out = new Array<number>(obs.length).fill(0);
    if (keys.length === 0) return out;
    const r = await (this.redis as unknown as { pcVelocity(n: number, ...a: string[]): Promise<number[]> }).pcVelocity(keys.length, ...keys, ...args);
    idx.forEach((i, k) => (out[i] = Number(r[k] ?? 0)));
    return out;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
