/* null_milter: a do-nothing libmilter filter, the floor of the milter protocol for bench/run.py.
 *
 * What it is: registers every callback deskmilter registers (connect, envfrom, envrcpt, data,
 * header, eoh, body, eom, abort, close; no helo, as deskmilter) and answers SMFIS_CONTINUE to
 * each, then SMFIS_ACCEPT at end of message. It asks for the same actions as deskmilter and, like
 * deskmilter, sets TCP_NODELAY on its listening socket after smfi_opensocket (accepted sockets
 * inherit it on Linux; see shared/notes/milter.md: without it, and without data/eoh answered, TCP
 * shows ~40 ms Nagle/delayed-ACK stalls). So the MTA does the same round trips and sends the whole body, and
 * every difference to deskmilter is deskmilter's own work.
 *
 * Usage: null_milter SOCKET   (libmilter spec: unix:/path or inet:PORT@HOST). Runs in the
 * foreground until SIGTERM/SIGINT. Prints "listening" to stdout once the socket is open.
 *
 * Limits: benchmark use only; no per-connection state, no logging.
 * Thread-safety: the callbacks touch no shared state.
 */
#include <dirent.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static sfsistat OnConnect(SMFICTX* ctx, char* host, _SOCK_ADDR* addr) {
  (void)ctx, (void)host, (void)addr;
  return SMFIS_CONTINUE;
}
static sfsistat OnArgv(SMFICTX* ctx, char** argv) {
  (void)ctx, (void)argv;
  return SMFIS_CONTINUE;
}
static sfsistat OnHeader(SMFICTX* ctx, char* name, char* value) {
  (void)ctx, (void)name, (void)value;
  return SMFIS_CONTINUE;
}
static sfsistat OnCtx(SMFICTX* ctx) {
  (void)ctx;
  return SMFIS_CONTINUE;
}
static sfsistat OnBody(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  (void)ctx, (void)chunk, (void)len;
  return SMFIS_CONTINUE;
}
static sfsistat OnEom(SMFICTX* ctx) {
  (void)ctx;
  return SMFIS_ACCEPT;
}

/* TCP_NODELAY on every listening TCP socket of this process (libmilter does not expose its own). */
static int SetNoDelayOnListeners(void) {
  int changed = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL) return 0;
  int self = dirfd(d);
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char* end = NULL;
    long fd = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == self) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
      continue;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname((int)fd, (struct sockaddr*)&ss, &sl) != 0) continue;
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) continue;
    int one = 1;
    if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++changed;
  }
  closedir(d);
  return changed;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: null_milter unix:/path | inet:PORT@HOST\n");
    return 2;
  }
  struct smfiDesc desc;
  memset(&desc, 0, sizeof desc);
  desc.xxfi_name = "null_milter";
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGFROM | SMFIF_QUARANTINE |
                    SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT;
  desc.xxfi_connect = OnConnect;
  desc.xxfi_helo = NULL; /* as deskmilter: HELO negotiated away (libmilter sets SMFIP_NOHELO) */
  desc.xxfi_envfrom = OnArgv;
  desc.xxfi_envrcpt = OnArgv;
  desc.xxfi_header = OnHeader;
  desc.xxfi_eoh = OnCtx;
  desc.xxfi_body = OnBody;
  desc.xxfi_eom = OnEom;
  desc.xxfi_abort = OnCtx;
  desc.xxfi_close = OnCtx;
  desc.xxfi_data = OnCtx;

  const char* spec = argv[1];
  if (strncmp(spec, "unix:", 5) == 0) unlink(spec + 5); /* a stale socket from a killed run */
  if (smfi_setconn((char*)spec) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
    fprintf(stderr, "null_milter: smfi_setconn/smfi_register failed for %s\n", spec);
    return 1;
  }
  if (smfi_opensocket(1) == MI_FAILURE) {
    fprintf(stderr, "null_milter: cannot open %s\n", spec);
    return 1;
  }
  if (strncmp(spec, "unix:", 5) == 0) chmod(spec + 5, 0666);
  SetNoDelayOnListeners();
  printf("listening\n");
  fflush(stdout);
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
