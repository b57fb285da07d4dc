-- Mail to two queues makes ONE ticket, in the queue of the first support recipient in RCPT order
-- (docs/OPERATIONS.md "Mail to two queues"); the decision line names both addresses. The same
-- message with the recipients the other way round goes to the other queue.
-- toml: [[queue]]
-- toml: name = "billing"
-- toml: addresses = ["billing@example.com"]
-- expect-log: 1 QTWO1: from=alice@customer.test, to="support@example.com,billing@example.com", verdict=accept, kind=new, queue=support, ticket=1, action=created
-- expect-log: 1 QTWO2: from=alice@customer.test, to="billing@example.com,support@example.com", verdict=accept, kind=new, queue=billing, ticket=2, action=created
-- expect-log: 2 action=created
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  local msg = support_message("QTWO1", "two1@customer.test", "Invoice and printer")
  msg.rcpts = {"<support@example.com>", "<billing@example.com>"}
  local r = send_message(conn, msg)
  check(r == SMFIR_CONTINUE, "EOM reply " .. reply_name(r))
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "one ticket, number 1")

  msg = support_message("QTWO2", "two2@customer.test", "Invoice question")
  msg.rcpts = {"<billing@example.com>", "<support@example.com>"}
  r = send_message(conn, msg)
  check(r == SMFIR_CONTINUE, "EOM reply " .. reply_name(r))
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "2"), "one ticket, number 2")
  mt.disconnect(conn)
end)
