// The listening socket of deskmilter, opened through libmilter from the configured milter.socket.
//
// unix:PATH / local:PATH: the parent directory is created (0755) if missing; a stale socket file is
// removed, but only when nothing answers on it (a second deskmilter does not steal the socket of a
// running one) and never when PATH is not a socket; the socket is created under umask 077 and then
// chmod'ed to milter.socket_mode.
// inet:PORT@HOST / inet6:PORT@HOST: after smfi_opensocket the listening descriptor, which libmilter
// does not expose, is found by scanning /proc/self/fd for a listening TCP socket on PORT, and
// TCP_NODELAY is set on it. Linux copies TCP_NODELAY to accepted sockets, which removes the
// Nagle/delayed-ACK stalls of ~40 ms per message measured in notes/milter.md.
//
// Call after smfi_register and before smfi_main, from the main thread. Not thread-safe.
#pragma once

#include "core/config.h"
#include "core/status.h"

namespace desk::milter {

// smfi_setconn + smfi_settimeout + smfi_opensocket with the preparation above. Errors name
// milter.socket and why: kConfig for what only an edit of the file fixes (bad spec, a non-socket in
// the way, a path too long), kInternal for what may pass by itself (the address or socket in use,
// a directory not writable), so the daemon exits 1 and systemd's Restart= retries it.
Status OpenListener(const Config& config);

// Sets TCP_NODELAY on every listening TCP socket of this process bound to port. Returns how many
// it changed. Exposed for the start-up log and for tests.
int SetNoDelayOnListeners(int port);

}  // namespace desk::milter
