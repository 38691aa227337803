-- wrk_invite.lua: replays one SigV4-signed InviteUsers request (50 addresses) over keep-alive.
-- The request comes from the file named by $WRK_REQUEST_FILE, written by bench/emulator_wrk.sh:
--   line 1: METHOD PATH; then "Name: value" header lines; an empty line; the body (rest of file).
-- The signature is valid for the emulator's 5-minute clock-skew window, plenty for a 10 s run.

local function load_request(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local text = f:read("*a")
  f:close()
  local head, body = text:match("^(.-)\r?\n\r?\n(.*)$")
  assert(head, "request file has no blank line between headers and body")
  local lines = {}
  for line in head:gmatch("[^\r\n]+") do lines[#lines + 1] = line end
  local method, target = lines[1]:match("^(%S+)%s+(%S+)$")
  local headers = {}
  for i = 2, #lines do
    local name, value = lines[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  return method, target, headers, body
end

local method, target, headers, body = load_request(os.getenv("WRK_REQUEST_FILE"))
wrk.method = method
wrk.path = target
wrk.headers = headers
wrk.body = body

local bad = 0
function response(status, _, _)
  if status ~= 201 then bad = bad + 1 end
end

function done(summary, _, _)
  io.write(string.format("requests: %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
