-- POST the multipart body in AVATAR_BODY (a file) to /users/me/avatar with the bearer TOKEN.
local f = assert(io.open(os.getenv("AVATAR_BODY"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/users/me/avatar"
wrk.body = body
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. os.getenv("BOUNDARY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

local failures = 0

function response(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("non_200=%d\n", summary.errors.status))
end
