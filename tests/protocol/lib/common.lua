-- Helpers shared by deskmilter's miltertest scripts. Each script starts with
--   dofile(DESK_LIB .. "/common.lua")
-- and puts its checks in a function given to run(): a failed check raises an error that run()
-- prints before exiting 1 (an uncaught Lua error makes miltertest exit 1 without a word).
-- Globals from run.sh: DESK_SOCKET, DESK_TMP, DESK_CONFIG, DESK_PID, DESK_LIB.

function check(cond, msg)
  if not cond then error(msg, 2) end
end

local reply_names = {}
for _, n in ipairs({"ACCEPT", "CONTINUE", "DISCARD", "REJECT", "TEMPFAIL", "REPLYCODE",
                    "ADDHEADER", "CHGHEADER", "INSHEADER", "QUARANTINE", "SKIP"}) do
  local v = _G["SMFIR_" .. n]
  if v ~= nil then reply_names[v] = "SMFIR_" .. n end
end

-- mt.getreply returns a number (a float): name it for messages.
function reply_name(r)
  if r == nil then return "nil" end
  return reply_names[r] or string.format("'%s' (%s)", string.char(math.floor(r)), tostring(r))
end

function expect_reply(conn, want, what)
  local got = mt.getreply(conn)
  check(got == want, string.format("%s: reply %s, want %s", what, reply_name(got), reply_name(want)))
end

-- Connects and sends the connection info (and HELO unless the filter negotiated it away).
function connect()
  local conn = mt.connect(DESK_SOCKET, 40, 0.25)
  check(conn ~= nil, "mt.connect(" .. DESK_SOCKET .. ") failed")
  mt.macro(conn, SMFIC_CONNECT, "{client_addr}", "192.0.2.10", "{daemon_name}", "smtpd")
  check(mt.conninfo(conn, "client.example.net", "192.0.2.10") == nil, "mt.conninfo failed")
  expect_reply(conn, SMFIR_CONTINUE, "connect")
  if not mt.test_option(conn, SMFIP_NOHELO) then
    check(mt.helo(conn, "client.example.net") == nil, "mt.helo failed")
  end
  return conn
end

-- Sends one message: msg = {from=, rcpts={...}, qid=, data_qid=, auth=, headers={{name, value},
-- ...}, body=}; auth is the SASL login sent as {auth_authen} at MAIL. qid is sent as macro i at MAIL (Sendmail), data_qid at DATA (Postfix).
-- Stops after DATA when the filter answers there (accept for mail that is not support mail) and
-- returns that reply; otherwise returns the end-of-message reply.
function send_message(conn, msg)
  if msg.qid ~= nil and msg.auth ~= nil then
    check(mt.macro(conn, SMFIC_MAIL, "i", msg.qid, "{auth_authen}", msg.auth) == nil,
          "mt.macro(i, auth_authen) failed")
  elseif msg.qid ~= nil then
    check(mt.macro(conn, SMFIC_MAIL, "i", msg.qid) == nil, "mt.macro(i) failed")
  elseif msg.auth ~= nil then
    check(mt.macro(conn, SMFIC_MAIL, "{auth_authen}", msg.auth) == nil, "mt.macro(auth) failed")
  end
  check(mt.mailfrom(conn, msg.from) == nil, "mt.mailfrom failed")
  expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM " .. msg.from)
  for _, rcpt in ipairs(msg.rcpts) do
    check(mt.rcptto(conn, rcpt) == nil, "mt.rcptto failed")
    expect_reply(conn, SMFIR_CONTINUE, "RCPT TO " .. rcpt)
  end
  if msg.data_qid ~= nil then
    -- SMFIC_DATA ('T') is not predefined by miltertest. libmilter clears the DATA macros at MAIL,
    -- so this must follow RCPT.
    check(mt.macro(conn, string.byte("T"), "i", msg.data_qid) == nil, "mt.macro(DATA, i) failed")
  end
  check(mt.data(conn) == nil, "mt.data failed")
  local r = mt.getreply(conn)
  if r ~= SMFIR_CONTINUE then return r end
  for _, h in ipairs(msg.headers or {}) do
    check(mt.header(conn, h[1], h[2]) == nil, "mt.header failed")
    expect_reply(conn, SMFIR_CONTINUE, "header " .. h[1])
  end
  check(mt.eoh(conn) == nil, "mt.eoh failed")
  expect_reply(conn, SMFIR_CONTINUE, "end of headers")
  if msg.body ~= nil then
    check(mt.bodystring(conn, msg.body) == nil, "mt.bodystring failed")
    expect_reply(conn, SMFIR_CONTINUE, "body")
  end
  check(mt.eom(conn) == nil, "mt.eom failed")
  return mt.getreply(conn)
end

-- A support message with the usual headers; extra headers are appended.
function support_message(qid, msgid, subject, extra)
  local headers = {
    {"From", "Alice Customer <alice@customer.test>"},
    {"To", "support@example.com"},
    {"Subject", subject},
    {"Date", "Mon, 02 Jun 2025 10:00:00 +0000"},
  }
  if msgid ~= nil then table.insert(headers, {"Message-ID", "<" .. msgid .. ">"}) end
  for _, h in ipairs(extra or {}) do table.insert(headers, h) end
  return {
    from = "<alice@customer.test>",
    rcpts = {"<support@example.com>"},
    qid = qid,
    headers = headers,
    body = "Hello,\r\nthe printer on floor 2 is broken.\r\n",
  }
end

function run(main)
  local ok, err = pcall(main)
  if not ok then
    print("FAIL: " .. tostring(err))
    os.exit(1)
  end
end
