-- report.lua - shared by the wrk scripts: one machine-readable line for bench/run.sh
-- (wrk's "errors.status" counts responses with a status of 400 or more).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK requests=%d duration_us=%d rps=%.2f non2xx=%d connect=%d read=%d write=%d timeout=%d" ..
      " p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
