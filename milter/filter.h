// The libmilter callbacks of deskmilter: the adapter between libmilter's phases and desk::Engine.
//
// Per connection (smfi_setpriv, never thread_local: libmilter runs one connection's callbacks on
// different worker threads, though never two at once): the Engine snapshot taken at connect,
// {client_addr}, {daemon_name}; per message: the Envelope and the Transaction. Several messages may
// follow on one connection; abort discards the message, close frees the connection.
//
// Guarantees:
//  - Every packet the MTA sends is answered (data and eoh are registered, no "no reply" protocol
//    flags): with TCP_NODELAY this avoids Nagle/delayed-ACK stalls of ~40 ms (notes/milter.md).
//  - Mail without a support recipient is accepted at DATA with SMFIS_ACCEPT: untouched, never
//    spooled, and not logged unless it came with a SASL login that is no agent's (one line
//    "login=..., agent=none", so a misspelt agent login is visible).
//  - The original of a mail whose attachments are stripped is kept in the quarantine
//    (core/quarantine.h) before the edited copy goes out.
//  - Each support message's decision is logged exactly once, at end of message, as
//    "QID: from=..., to=..., verdict=..., ..., elapsed_ms=N.NNN" (docs/OPERATIONS.md).
//  - Adapter failures (exceptions, a failed smfi_* edit) become the Engine's FailureDecision for
//    kInternal (default tempfail); a failed header edit always ends in tempfail, reject or discard,
//    never in delivering a half-edited copy. Odd callback orders (eom without data, header after
//    eom) never crash: a message without an envelope has no support recipient and passes.
//  - No C++ exception crosses into libmilter.
//
// Thread-safety: the callbacks are reentrant; shared state lives in milter/runtime.h.
#pragma once

#include <libmilter/mfapi.h>

#include <cstdint>

#include "core/config.h"

namespace desk::milter {

// Removes quarantine entries older than attachments.quarantine_days and logs how many (the daemon
// calls it at start; the filter at most hourly after writing an entry).
void PurgeExpiredQuarantine(const Config& cfg, int64_t now);

// The filter description to pass to smfi_register.
smfiDesc FilterDescription();

// The actions deskmilter asks the MTA for (also the registration flags).
inline constexpr unsigned long kFilterActions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGFROM |
                                                SMFIF_QUARANTINE | SMFIF_CHGBODY | SMFIF_ADDRCPT |
                                                SMFIF_DELRCPT;

}  // namespace desk::milter
