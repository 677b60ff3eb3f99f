-- write.lua - wrk: POST /v1/members, every request a new member with an email of its own
-- (the run's random prefix, the thread's number and a counter)
--   wrk -s bench/write.lua http://127.0.0.1:PORT -- TOKEN PREFIX
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("thread_no", threads)
end

local people = {
   { "山田　太郎", "ヤマダ　タロウ", "090-1234-5678" },
   { "佐藤　花子", "サトウ　ハナコ", "080-2345-6789" },
   { "鈴木　翔太", "スズキ　ショウタ", "070-3456-7890" },
   { "高橋　美咲", "タカハシ　ミサキ", "+81 90-4567-8901" },
   { "田中　健太", "タナカ　ケンタ", "(03) 1234-5678" },
}

local prefix, sent = nil, 0
function init(args)
   local token
   token, prefix = args[1], args[2]
   assert(token and prefix, "usage: wrk -s write.lua URL -- TOKEN PREFIX")
   wrk.headers["Authorization"] = "Bearer " .. token
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   sent = sent + 1
   local p = people[sent % #people + 1]
   local body = string.format(
      '{"email":"%s-%d-%d@bench.example.jp","name":"%s","name_kana":"%s","phone":"%s"}',
      prefix, thread_no, sent, p[1], p[2], p[3])
   return wrk.format("POST", "/v1/members", nil, body)
end
