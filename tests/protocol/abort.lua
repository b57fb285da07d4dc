-- A transaction aborted mid-message (after headers and part of the body) leaves nothing behind; the
-- next transaction on the same connection is decided normally, and only it is logged.
-- expect-log: 1 ticket=
-- expect-log: 0 QABORT1
-- expect-log: 1 QABORT2: from=alice@customer.test, to=support@example.com, verdict=accept, kind=new, queue=support, ticket=1, action=created, msgid=after-abort@customer.test
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  local msg = support_message("QABORT1", "aborted@customer.test", "Never finished")
  check(mt.macro(conn, SMFIC_MAIL, "i", "QABORT1") == nil, "macro")
  check(mt.mailfrom(conn, msg.from) == nil, "mailfrom")
  expect_reply(conn, SMFIR_CONTINUE, "MAIL")
  check(mt.rcptto(conn, msg.rcpts[1]) == nil, "rcptto")
  expect_reply(conn, SMFIR_CONTINUE, "RCPT")
  check(mt.data(conn) == nil, "data")
  expect_reply(conn, SMFIR_CONTINUE, "DATA")
  for _, h in ipairs(msg.headers) do
    check(mt.header(conn, h[1], h[2]) == nil, "header")
    expect_reply(conn, SMFIR_CONTINUE, "header")
  end
  check(mt.eoh(conn) == nil, "eoh")
  expect_reply(conn, SMFIR_CONTINUE, "EOH")
  check(mt.bodystring(conn, "half a body\r\n") == nil, "body")
  expect_reply(conn, SMFIR_CONTINUE, "body")
  check(mt.abort(conn) == nil, "mt.abort failed")

  local r = send_message(conn, support_message("QABORT2", "after-abort@customer.test", "Second try"))
  check(r == SMFIR_CONTINUE, "EOM reply " .. reply_name(r))
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "ticket 1 expected: the aborted message must not have created one")
  mt.disconnect(conn)
end)
