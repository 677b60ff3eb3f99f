-- read.lua - wrk: GET /v1/members/{id} with ids picked at random from a file, one id a line
--   wrk -s bench/read.lua http://127.0.0.1:PORT -- IDS_FILE TOKEN
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("thread_no", threads)
end

-- The requests are formatted once per thread, so that wrk spends its CPU on the sockets.
local requests, count
function init(args)
   local ids, token = args[1], args[2]
   assert(ids and token, "usage: wrk -s read.lua URL -- IDS_FILE TOKEN")
   wrk.headers["Authorization"] = "Bearer " .. token
   requests, count = {}, 0
   for id in io.lines(ids) do
      if #id > 0 then
         count = count + 1
         requests[count] = wrk.format("GET", "/v1/members/" .. id)
      end
   end
   assert(count > 0, "no ids in " .. ids)
   math.randomseed(os.time() * 100 + (thread_no or 0))
end

function request()
   return requests[math.random(count)]
end
