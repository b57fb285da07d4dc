// The transcript worker: keeps the PDF transcript of tickets of queues with transcript = "pdf" up
// to date in the external store, outside the SMTP transaction.
//
// After the end-of-message decision is applied, the adapter hands the decision to
// EnqueueTranscript; when it wrote to a ticket of such a queue, the ticket number joins a queue
// served by one background thread, which reads the ticket back from the store and writes
// <attachments.store_dir>/transcripts/N.pdf (core/transcript_pdf.h: atomic replace). Pending
// numbers are de-duplicated (ten replies in a burst make one PDF), and the queue is bounded
// (kMaxPending): past it a ticket is skipped with a warning, and the next message on it, or
// `deskctl ticket N --pdf`, brings the PDF up to date again. A failure to write is logged and
// never affects mail.
//
// Each entry holds the Engine snapshot it was enqueued under (its config and store). The store
// outlives the snapshots only until shutdown: StopTranscriptWorker() must run before the store is
// closed; it finishes the PDF being written and drops the rest (they are rebuilt on the next
// message).
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <cstddef>
#include <memory>

#include "core/engine.h"

namespace desk::milter {

inline constexpr size_t kMaxPendingTranscripts = 10000;

void EnqueueTranscript(const std::shared_ptr<const Engine>& engine, const Decision& d);
void StopTranscriptWorker();

}  // namespace desk::milter
