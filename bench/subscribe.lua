-- subscribe.lua - wrk: POST /v1/subscriptions, each request a new subscription for the next member
-- of a file (one member id a line; each has a sandbox card), thread k taking lines k, k+T, ...
--   wrk -s bench/subscribe.lua http://127.0.0.1:PORT -- IDS_FILE TOKEN PLAN_ID THREADS
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("thread_no", threads)
end

local ids, next_index, plan, step
function init(args)
   local file, token
   file, token, plan, step = args[1], args[2], args[3], tonumber(args[4])
   assert(file and token and plan and step, "usage: wrk -s subscribe.lua URL -- IDS_FILE TOKEN PLAN_ID THREADS")
   wrk.headers["Authorization"] = "Bearer " .. token
   wrk.headers["Content-Type"] = "application/json"
   ids = {}
   for id in io.lines(file) do
      if #id > 0 then ids[#ids + 1] = id end
   end
   next_index = thread_no or 1
end

function request()
   local id = ids[next_index]
   assert(id, "subscribe.lua: out of members (" .. #ids .. " in the file)")
   next_index = next_index + step
   return wrk.format("POST", "/v1/subscriptions", nil,
                     string.format('{"member_id":"%s","plan":"%s"}', id, plan))
end
