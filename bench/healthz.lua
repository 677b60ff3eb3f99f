-- healthz.lua - wrk: the same static GET on every request (the URL's path), plus the report line
--   wrk -s bench/healthz.lua http://127.0.0.1:PORT/healthz
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
