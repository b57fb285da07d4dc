-- Who sent a message is on every decision line: the client address, and the SASL login when there
-- is one. Authenticated mail whose login is no configured agent passes untouched but is logged
-- once (login=..., agent=none), so a login spelled unlike the MTA's {auth_authen} is visible. An
-- agent's line names the outside recipient, not "-".
-- toml: [[queue.agent]]
-- toml: address = "alice@staff.example.com"
-- toml: login = "alice@example.com"
-- expect-log: 1 QPASS1: from=bob@staff.example.com, to=friend@else.test, verdict=accept, kind=not_support, client=192.0.2.10, login=alice, agent=none
-- expect-log: 1 QSUP2: from=carol@customer.test, to=support@example.com, verdict=accept, kind=new
-- expect-log: 1 client=192.0.2.10, login=carol@example.net, agent=none
-- expect-log: 1 QAGT3: from=alice@staff.example.com, to=customer@outside.test, verdict=accept
-- expect-log: 1 login=alice@example.com, agent=alice@staff.example.com
-- expect-log: 3 client=192.0.2.10
-- expect-log: 0 QUNAUTH4
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  -- The example's old mistake: login "alice" where Postfix reports the full SASL name.
  local r = send_message(conn, {from = "<bob@staff.example.com>", rcpts = {"<friend@else.test>"},
                                qid = "QPASS1", auth = "alice"})
  check(r == SMFIR_ACCEPT, "unknown login: DATA reply " .. reply_name(r) .. ", want SMFIR_ACCEPT")

  local msg = support_message("QSUP2", "m2@customer.test", "Help")
  msg.from = "<carol@customer.test>"
  msg.auth = "carol@example.net"
  r = send_message(conn, msg)
  check(r == SMFIR_CONTINUE, "support mail: EOM reply " .. reply_name(r))

  msg = support_message("QAGT3", "m3@staff.example.com", "Re: your question")
  msg.from = "<alice@staff.example.com>"
  msg.rcpts = {"<customer@outside.test>"}
  msg.auth = "alice@example.com"
  msg.headers[1] = {"From", "Alice <alice@staff.example.com>"}
  msg.headers[2] = {"To", "customer@outside.test"}
  r = send_message(conn, msg)
  check(r == SMFIR_CONTINUE, "agent mail: EOM reply " .. reply_name(r))

  -- Not authenticated, not support: passes without a line.
  r = send_message(conn, {from = "<dave@else.test>", rcpts = {"<eve@else.test>"}, qid = "QUNAUTH4"})
  check(r == SMFIR_ACCEPT, "plain mail: DATA reply " .. reply_name(r))
  mt.disconnect(conn)
end)
