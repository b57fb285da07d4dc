// The outbox worker: one background thread of the daemon that submits the outbox's due mails
// (automatic answers, core/auto_answer.h) to the MTA by SMTP (core/smtp_client.h, outbox.* options)
// and applies the retry policy (core/outbox.h).
//
// The SMTP transaction of the customer's mail never waits for it: the mail is in the store when
// the milter answers, and the worker is woken (WakeOutbox) or finds it at its next look, at most
// kOutboxIdleSeconds later (due times, retries). A mail is removed
// only after the MTA accepted it; a kill -9 between the MTA's 250 and the removal sends it again
// after the restart with the same bytes and Message-ID, never loses it.
//
// One mail at a time, in the store's order among the due ones. Each attempt is logged:
// "outbox: seq=N, ticket=T, message_id=..., to=..., result=sent|deferred|failed, attempts=A,
// detail=..." and the outbox length is published as deskmilter_outbox_messages.
//
// Thread-safety: every function may be called from any thread. The store must outlive
// StopOutboxWorker().
#pragma once

#include "core/ticket_store.h"

namespace desk::milter {

inline constexpr int kOutboxIdleSeconds = 5;

// Starts the thread (once); it reads its options from CurrentEngine()'s config at each round.
void StartOutboxWorker(TicketStore* store);
// Mail was queued: look now rather than at the next timer.
void WakeOutbox();
// Ends the thread after the attempt in progress.
void StopOutboxWorker();

}  // namespace desk::milter
