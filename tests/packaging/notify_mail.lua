-- Used by test_notify.py: one support message through the milter, so STATUS= must count one mail
-- handled and one ticket created. Globals: DESK_SOCKET, DESK_LIB (miltertest -D).
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  local msg = support_message("QNOTIFY1", "notify1@customer.test", "Printer broken")
  local r = send_message(conn, msg)
  check(r == SMFIR_CONTINUE, "EOM reply " .. reply_name(r) .. ", want SMFIR_CONTINUE")
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "ticket 1 not made")
  mt.disconnect(conn)
end)
