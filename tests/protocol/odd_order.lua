-- Odd callback orders never crash the milter: end of message right after RCPT (no DATA, headers
-- or body from the test; miltertest fills in defaults), RCPT without MAIL, and a connection that
-- drops mid-message. The milter keeps answering new connections afterwards.
-- expect-log: 2 ticket=
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  check(mt.mailfrom(conn, "<bob@else.test>") == nil, "mailfrom")
  expect_reply(conn, SMFIR_CONTINUE, "MAIL")
  check(mt.rcptto(conn, "<support@example.com>") == nil, "rcptto")
  expect_reply(conn, SMFIR_CONTINUE, "RCPT")
  check(mt.eom(conn) == nil, "eom")
  expect_reply(conn, SMFIR_CONTINUE, "EOM without DATA")
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "ticket header")

  -- An abrupt disconnect in the middle of a message.
  check(mt.mailfrom(conn, "<bob@else.test>") == nil, "mailfrom 2")
  expect_reply(conn, SMFIR_CONTINUE, "MAIL 2")
  check(mt.rcptto(conn, "<support@example.com>") == nil, "rcptto 2")
  expect_reply(conn, SMFIR_CONTINUE, "RCPT 2")
  check(mt.data(conn) == nil, "data 2")
  expect_reply(conn, SMFIR_CONTINUE, "DATA 2")
  check(mt.header(conn, "Subject", "cut off") == nil, "header 2")
  expect_reply(conn, SMFIR_CONTINUE, "header 2")
  mt.disconnect(conn, false)

  local conn2 = connect()
  local r = send_message(conn2, support_message("QODD3", "odd3@customer.test", "Still there?"))
  check(r == SMFIR_CONTINUE, "EOM reply on a new connection " .. reply_name(r))
  check(mt.eom_check(conn2, MT_HDRADD, "X-Deskmilter-Ticket", "2"), "ticket 2 expected")
  mt.disconnect(conn2)
end)
