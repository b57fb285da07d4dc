-- The flood decision line names the queue and the Message-ID, like every other decision line, so
-- the flooded queue and the mail can be found from the log.
-- toml: [loops]
-- toml: flood_max = 1
-- expect-log: 1 QFL1: from=alice@customer.test, to=support@example.com, verdict=accept, kind=new, queue=support, ticket=1
-- expect-log: 1 QFL2: from=alice@customer.test, to=support@example.com, verdict=tempfail, kind=flood, queue=support, ticket=-
-- expect-log: 1 msgid=fl2@customer.test
-- expect-log: 1 rule=flood:2/1/600s, client=192.0.2.10
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  local r = send_message(conn, support_message("QFL1", "fl1@customer.test", "First"))
  check(r == SMFIR_CONTINUE, "first mail: EOM reply " .. reply_name(r))
  r = send_message(conn, support_message("QFL2", "fl2@customer.test", "Second"))
  check(r == SMFIR_REPLYCODE or r == SMFIR_TEMPFAIL, "flood: EOM reply " .. reply_name(r))
  mt.disconnect(conn)
end)
