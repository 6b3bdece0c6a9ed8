-- Random valid bookings for wrk (POST /api/v1/reservations), driven by bench/booking.py.
--
--   wrk -t2 -c8 -d10s -s bench/wrk/booking.lua http://127.0.0.1:PORT -- CONFIG
--
-- CONFIG is a file bench/booking.py writes: one `key=value` per line:
--   tokens   comma-separated bearer tokens (each request picks one: several users)
--   pools    comma-separated `pool:kind:kind...` (each request picks a pool, then a kind)
--   base     epoch seconds of the first grid instant a booking may start at (UTC)
--   slots    how many 15-minute slots after `base` a start may fall on
--   hours    longest booking in hours (each is 1..hours long, on the hour)
--   seed     random seed (each wrk thread adds its own number)
-- done() prints one line `WRK {json}` with requests, seconds, socket errors, latency
-- percentiles (ms) and the count of each status ("409s": a 409 with a suggestion), which
-- bench/booking.py reads.

local config = {}
local tokens, pools = {}, {}
counts = {} -- a global: done() reads each thread's with thread:get
local threads = {}
local thread_number = 0

local function split(text, sep)
  local out = {}
  for piece in string.gmatch(text, "([^" .. sep .. "]+)") do
    out[#out + 1] = piece
  end
  return out
end

local function load(path)
  for line in io.lines(path) do
    local key, value = string.match(line, "^([%w_]+)=(.*)$")
    if key then
      config[key] = value
    end
  end
  tokens = split(config.tokens, ",")
  for _, spec in ipairs(split(config.pools, ",")) do
    local parts = split(spec, ":")
    local name = table.remove(parts, 1)
    pools[#pools + 1] = { name = name, kinds = parts }
  end
end

function setup(thread)
  thread_number = thread_number + 1
  thread:set("number", thread_number)
  threads[#threads + 1] = thread
end

function init(args)
  load(args[1])
  math.randomseed(tonumber(config.seed) + 7919 * (number or 0))
  counts = {}
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function request()
  local pool = pools[math.random(#pools)]
  local kind = pool.kinds[math.random(#pool.kinds)]
  local start = tonumber(config.base) + 900 * math.random(0, tonumber(config.slots) - 1)
  local stop = start + 3600 * math.random(1, tonumber(config.hours))
  local body = string.format(
    '{"pool":"%s","start":"%s","end":"%s","gpu":{"kind":"%s","count":%d},'
      .. '"cpu":1,"memory":"1Gi","mode":"inference"}',
    pool.name, iso(start), iso(stop), kind, math.random(1, 2))
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
  }
  return wrk.format("POST", "/api/v1/reservations", headers, body)
end

function response(status, headers, body)
  local key = tostring(status)
  if status == 409 and string.find(body, '"suggestion":{', 1, true) then
    key = "409s" -- a refusal that names a slot that fits
  end
  counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for key, n in pairs(c) do
      total[key] = (total[key] or 0) + n
    end
  end
  local parts = {}
  for key, n in pairs(total) do
    parts[#parts + 1] = string.format('"%s":%d', key, n)
  end
  io.write(string.format(
    'WRK {"requests":%d,"seconds":%.3f,"errors":%d,"p50_ms":%.2f,"p90_ms":%.2f,'
      .. '"p99_ms":%.2f,"max_ms":%.2f,"status":{%s}}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, table.concat(parts, ",")))
end
