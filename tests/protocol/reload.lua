-- SIGHUP reloads the config: a queue added to the file serves connections opened after the reload,
-- while a connection opened before keeps its snapshot; a broken file is refused and the running
-- config stays; a burst of SIGHUPs never stops the milter (libmilter alone treats SIGHUP as stop).
-- expect-log: 3 ticket=
-- expect-log: 3 queue=billing
-- expect-log: 1 reload failed
-- expect-log-min: 2 reloaded
dofile(DESK_LIB .. "/common.lua")

local function sh(cmd)
  local a, _, c = os.execute(cmd)
  return a == true or a == 0 or c == 0 and a ~= nil and a ~= false
end

local function log_count(text)
  local n = 0
  local f = io.open(DESK_TMP .. "/milter.log", "r")
  if f == nil then return 0 end
  for line in f:lines() do
    if string.find(line, text, 1, true) then n = n + 1 end
  end
  f:close()
  return n
end

local function wait_log(text, want)
  for _ = 1, 200 do
    if log_count(text) >= want then return end
    mt.sleep(0.05)
  end
  error("timed out waiting for " .. want .. " log line(s) with '" .. text .. "'")
end

local function write_config(extra)
  local f = io.open(DESK_CONFIG, "r")
  local base = f:read("*a")
  f:close()
  base = string.gsub(base, "\n# reload test.*$", "\n")
  f = io.open(DESK_CONFIG, "w")
  f:write(base .. "# reload test\n" .. extra)
  f:close()
end

local function billing(qid, msgid)
  local msg = support_message(qid, msgid, "Invoice question")
  msg.rcpts = {"<billing@example.com>"}
  return msg
end

local billing_queue = '[[queue]]\nname = "billing"\naddresses = ["billing@example.com"]\n'

run(function()
  local old = connect()
  write_config(billing_queue)
  check(sh("kill -HUP " .. DESK_PID), "kill -HUP failed")
  wait_log("reloaded", 1)

  -- Opened before the reload: billing@ is still no support address there.
  local r = send_message(old, billing("QREL1", "rel1@customer.test"))
  check(r == SMFIR_ACCEPT, "old connection: DATA reply " .. reply_name(r) .. ", want SMFIR_ACCEPT")
  mt.disconnect(old)

  local conn = connect()
  r = send_message(conn, billing("QREL2", "rel2@customer.test"))
  check(r == SMFIR_CONTINUE, "new connection: EOM reply " .. reply_name(r))
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "billing ticket 1")
  mt.disconnect(conn)

  -- A broken file: refused, the running config (with billing) stays.
  write_config(billing_queue .. "bogus_key = 1\n")
  check(sh("kill -HUP " .. DESK_PID), "kill -HUP failed")
  wait_log("reload failed", 1)
  conn = connect()
  r = send_message(conn, billing("QREL3", "rel3@customer.test"))
  check(r == SMFIR_CONTINUE, "after a failed reload: EOM reply " .. reply_name(r))
  mt.disconnect(conn)

  -- A burst of SIGHUPs while a connection is open.
  write_config(billing_queue)
  conn = connect()
  check(sh("for i in $(seq 200); do kill -HUP " .. DESK_PID .. " || exit 1; done"), "HUP burst")
  wait_log("reloaded", 2)
  mt.sleep(0.5)
  check(sh("kill -0 " .. DESK_PID), "deskmilter died from a SIGHUP burst")
  r = send_message(conn, billing("QREL4", "rel4@customer.test"))
  check(r == SMFIR_CONTINUE, "after the burst: EOM reply " .. reply_name(r))
  mt.disconnect(conn)
end)
