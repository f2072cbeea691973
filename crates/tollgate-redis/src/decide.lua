-- Tollgate: all the limits of one request, decided at once (see src/script.rs for the layout).
--
-- Time is in microseconds, the resolution of TIME: every value stays below 2^53, so Lua's
-- doubles hold it exactly. Numbers are written back with string.format('%d'), never tostring.
--
-- KEYS[i]  the partition of limit i (every key of one call shares a hash tag)
-- ARGV[1]  'acquire', 'refund' or 'release'
-- ARGV[2]  the instant to decide at, or '' for the server's TIME (tests pin it)
-- ARGV[3]  refund: the instant the charge was decided at
-- ARGV[4 + 5(i-1) ..]  per limit: kind, cost, a, b, c
--   't' token bucket   a = interval, b = burst
--   'w' window         a = start, b = end, c = max (bounds of the window the caller expects)
--   's' sliding        a = period, b = max
--   'c' concurrency    a = max, b = lease time            release: a = lease expiry
--
-- acquire replies {1 | 0, now, then per limit: allowed, limit, remaining, reset, retry (-1:
-- never)}: 1 when every limit admitted and was charged, 0 when one refused and none was.
-- It replies {-1, now} when a window's bounds do not hold now: the caller asks again.

local op = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

local function int(x)
  return string.format('%d', x)
end

-- floor(a / b) for 0 <= a < 2^53 and 0 < b: the double quotient, corrected by one either way.
local function div(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

-- Keeps a key until `expiry` (microseconds), measured from the instant decided at.
local function set(key, value, expiry)
  redis.call('SET', key, value, 'PX', math.max(math.ceil((expiry - now) / 1000), 1))
end

local function fields(value)
  local out = {}
  for part in string.gmatch(value, '%d+') do
    out[#out + 1] = tonumber(part)
  end
  return out
end

local bucket = {}
function bucket.decide(key, cost, interval, burst)
  local state = tonumber(redis.call('GET', key) or '0')
  local tolerance = interval * burst
  local tat = math.max(state, now)
  local available = div(math.max(now + tolerance - tat, 0), interval)
  local wanted = math.max(cost, 1)
  if wanted <= available then
    local charged = (cost == 0) and 0 or wanted
    local at = tat + charged * interval
    local write = function() set(key, int(at), at) end
    return {1, burst, available - charged, at, now}, charged > 0 and write or nil
  end
  local retry = (wanted <= burst) and math.max(tat + wanted * interval - tolerance, 0) or -1
  return {0, burst, available, tat, retry}
end
function bucket.refund(key, cost, interval, _, _, charged_at)
  local state = tonumber(redis.call('GET', key) or '0')
  if state > charged_at then
    redis.call('SET', key, int(math.max(state - cost * interval, charged_at)), 'KEEPTTL')
  end
end

local window = {}
function window.decide(key, cost, start, stop, max)
  if now < start or now >= stop then
    return nil
  end
  local used = 0
  local value = redis.call('GET', key)
  if value then
    local state = fields(value)
    if state[1] == stop then
      used = math.min(state[2], max)
    elseif state[1] > stop then
      used = max -- written in a later window (the clock went back): read as full
    end
  end
  local wanted = math.max(cost, 1)
  if used + wanted <= max then
    local write = function() set(key, int(stop) .. ':' .. int(used + cost), stop) end
    return {1, max, max - used - cost, stop, now}, cost > 0 and write or nil
  end
  return {0, max, max - used, stop, (wanted <= max) and stop or -1}
end
function window.refund(key, cost, _, stop)
  local value = redis.call('GET', key)
  if value then
    local state = fields(value)
    if state[1] == stop then
      local used = int(stop) .. ':' .. int(math.max(state[2] - cost, 0))
      redis.call('SET', key, used, 'KEEPTTL')
    end
  end
end

local sliding = {}
-- Counts of the window ending at `stop`: previous, current (see SlidingWindow in the core).
local function counts(key, stop, period, max)
  local value = redis.call('GET', key)
  if not value then
    return 0, 0
  end
  local state = fields(value)
  if state[1] == stop then
    return state[2], state[3]
  elseif state[1] == stop - period then
    return state[3], 0
  elseif state[1] > stop then
    return 0, max
  end
  return 0, 0
end
function sliding.decide(key, cost, period, max)
  local start = now - (now - div(now, period) * period)
  local stop = start + period
  local previous, current = counts(key, stop, period, max)
  local elapsed = now - start
  local wanted = math.max(cost, 1)
  local scaled_max = max * period
  local function scaled(count)
    return previous * (period - elapsed) + count * period
  end
  local function earliest(weight, room)
    if weight == 0 then
      return 0
    end
    return math.max(period - div(room * period, weight), 0)
  end
  local allowed = current + wanted <= max and scaled(current + wanted) <= scaled_max
  local charged = allowed and cost or 0
  local remaining = div(math.max(scaled_max - scaled(current + charged), 0), period)
  if allowed then
    local write = function()
      set(key, int(stop) .. ':' .. int(previous) .. ':' .. int(current + charged), stop + period)
    end
    return {1, max, remaining, stop, now}, charged > 0 and write or nil
  end
  local retry = -1
  if wanted <= max then
    if current + wanted <= max then
      retry = start + earliest(previous, max - current - wanted)
    else
      retry = stop + earliest(current, max - wanted)
    end
  end
  return {0, max, remaining, stop, retry}
end
function sliding.refund(key, cost, period, _, _, charged_at)
  local stop = charged_at - (charged_at - div(charged_at, period) * period) + period
  local value = redis.call('GET', key)
  if value then
    local state = fields(value)
    if state[1] == stop or state[1] == stop - period then
      local current = int(math.max(state[3] - cost, 0))
      redis.call('SET', key, int(state[1]) .. ':' .. int(state[2]) .. ':' .. current, 'KEEPTTL')
    end
  end
end

local concurrency = {}
function concurrency.decide(key, cost, max, ttl)
  local held = redis.call('HGETALL', key)
  local leases, in_flight, last = {}, 0, nil
  for i = 1, #held, 2 do
    local lease = fields(held[i])
    if lease[1] <= now then
      redis.call('HDEL', key, held[i])
    else
      local units = lease[2] * tonumber(held[i + 1])
      leases[#leases + 1] = {lease[1], units}
      in_flight = in_flight + units
      last = math.max(last or 0, lease[1])
    end
  end
  local wanted = math.max(cost, 1)
  if in_flight + wanted <= max then
    if cost == 0 then
      return {1, max, max - in_flight, last or now, now}
    end
    local expires = now + ttl
    local write = function()
      redis.call('HINCRBY', key, int(expires) .. ':' .. int(cost), 1)
      redis.call('PEXPIRE', key, math.ceil(ttl / 1000) + 1)
    end
    return {1, max, math.max(max - in_flight - cost, 0), expires, now}, write
  end
  local retry = -1
  if wanted <= max then
    table.sort(leases, function(x, y) return x[1] < y[1] end)
    local freed, needed = 0, in_flight + wanted - max
    for _, lease in ipairs(leases) do
      freed = freed + lease[2]
      if freed >= needed then
        retry = lease[1]
        break
      end
    end
  end
  return {0, max, math.max(max - in_flight, 0), last or now, retry}
end
function concurrency.release(key, cost, expires)
  local field = int(expires) .. ':' .. int(cost)
  if redis.call('HINCRBY', key, field, -1) <= 0 then
    redis.call('HDEL', key, field)
  end
end

local kinds = {t = bucket, w = window, s = sliding, c = concurrency}
local function limit(i)
  local at = 4 + 5 * (i - 1)
  return kinds[ARGV[at]], KEYS[i], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]),
    tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
end

if op == 'refund' then
  local charged_at = tonumber(ARGV[3])
  for i = 1, #KEYS do
    local kind, key, cost, a, b, c = limit(i)
    if kind.refund then
      kind.refund(key, cost, a, b, c, charged_at)
    end
  end
  return 1
end

if op == 'release' then
  for i = 1, #KEYS do
    local kind, key, cost, a = limit(i)
    kind.release(key, cost, a)
  end
  return 1
end

local reply, writes, admitted = {1, now}, {}, true
for i = 1, #KEYS do
  local kind, key, cost, a, b, c = limit(i)
  local outcome, write = kind.decide(key, cost, a, b, c)
  if not outcome then
    return {-1, now}
  end
  admitted = admitted and outcome[1] == 1
  writes[#writes + 1] = write
  for j = 1, 5 do
    reply[#reply + 1] = outcome[j]
  end
end
if admitted then
  for _, write in ipairs(writes) do
    write()
  end
  return reply
end
-- Nothing was charged: the limits that would have admitted report what they hold as it stands.
reply[1] = 0
for i = 1, #KEYS do
  local at = 2 + 5 * (i - 1)
  if reply[at + 1] == 1 then
    local kind, key, _, a, b, c = limit(i)
    local held = kind.decide(key, 0, a, b, c)
    reply[at + 3], reply[at + 4] = held[3], held[4]
  end
end
return reply
