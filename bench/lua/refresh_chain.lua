-- Each request spends one refresh token and each response returns its successor, so every
-- request is a real rotation. Tokens come from the file in TOKENS, shared out among the threads.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  queue = {}
  local i = 0
  for line in io.lines(os.getenv("TOKENS")) do
    if i % tonumber(os.getenv("THREADS")) == (id - 1) then
      table.insert(queue, line)
    end
    i = i + 1
  end
  last = queue[1]
end

function request()
  local t = table.remove(queue, 1) or last
  last = t
  return wrk.format("POST", "/auth/refresh", {["Content-Type"] = "application/json"},
    '{"refresh_token":"' .. t .. '"}')
end

function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then table.insert(queue, t) end
end
