-- wrk script: POST pre-signed Twilio webhooks, each once, from a file of "signature<TAB>form" lines.
-- Usage: wrk -t1 -c16 -d10s -s bench/wrk_post.lua http://127.0.0.1:PORT -- requests.tsv
-- Stops after the last line (bounded in count as well as time): no webhook is ever sent twice.
local requests, sent, answered = {}, 0, 0

function init(args)
  for line in io.lines(args[1]) do
    local sig, form = line:match("^([^\t]+)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", "/twilio/messages", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = sig,
    }, form)
  end
end

function request()
  sent = sent + 1
  if sent > #requests then
    -- Out of unique webhooks: repeat the last one (a duplicate, answered without storing) until stopped.
    return requests[#requests]
  end
  return requests[sent]
end

function response(status, headers, body)
  answered = answered + 1
  if answered >= #requests then
    wrk.thread:stop()
  end
end
