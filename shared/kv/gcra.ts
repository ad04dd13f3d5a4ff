/**
 * The generic cell rate algorithm of MemoryKV.hit as a Redis script, so that it runs atomically
 * in Redis: KEYS[1] holds the theoretical arrival time (ms); ARGV = burst, interval (ms).
 * Returns {allowed (1|0), retry after (ms)}.
 */
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - burst * interval
if now < allow_at + interval then
  return {0, allow_at + interval - now}
end
local nxt = tat + interval
redis.call('SET', KEYS[1], tostring(nxt), 'PX', nxt - now)
return {1, 0}
`;

/** Gives one hit back: the theoretical arrival time moves one interval earlier, never before now. ARGV = interval (ms). */
export const GCRA_REFUND_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local nxt = tat - tonumber(ARGV[1])
if nxt <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], tostring(nxt), 'PX', nxt - now)
end
return 1
`;
