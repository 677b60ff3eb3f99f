-- bruteforce.lua - wrk: POST /v1/member-auth/login against one member's account with a new
-- wrong password each time, as a password-guessing attack from one address would.
--   wrk -s bench/bruteforce.lua http://127.0.0.1:PORT -- EMAIL
-- Prints one line for bench/run.sh: BRUTE requests=... rps=... s401=... s429=... other=...
-- (401: the service hashed the guess and refused it; 429: the throttle refused it unhashed).
local threads = {}
function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

local email, sent = nil, 0
s401, s429, other = 0, 0, 0         -- globals: done() reads them from each thread
function init(args)
   email = args[1]
   assert(email, "usage: wrk -s bruteforce.lua URL -- EMAIL")
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   sent = sent + 1
   return wrk.format("POST", "/v1/member-auth/login", nil,
      string.format('{"email":"%s","password":"guess-%d-%d"}', email, thread_no, sent))
end

function response(status, headers, body)
   if status == 401 then s401 = s401 + 1
   elseif status == 429 then s429 = s429 + 1
   else other = other + 1 end
end

function done(summary, latency, requests)
   local a, b, c = 0, 0, 0
   for _, t in ipairs(threads) do
      a = a + (t:get("s401") or 0); b = b + (t:get("s429") or 0); c = c + (t:get("other") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "BRUTE requests=%d duration_us=%d rps=%.2f s401=%d s429=%d other=%d socket=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6), a, b, c,
      e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
