-- wrk script: POST a small chat completion.
-- The optional script argument (wrk ... <url> -- <seconds>) is a deadline: after it no new request
-- is started, so every request the server received has been answered (and counted) when wrk stops.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"Say hello in five words."}]}'

local stop_at = math.huge

function init(args)
  if args[1] then
    stop_at = now() + tonumber(args[1])
  end
end

function delay()
  if now() < stop_at then
    return 0
  end
  return 3600000 -- idle until wrk exits
end
