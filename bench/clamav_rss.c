/* bench/clamav_rss: how much resident memory libclamav itself takes while it scans one file, the
 * floor under deskmilter's "RSS growth with scanning" (docs/BENCHMARKS.md).
 *
 *   clamav_rss DBDIR FILE [fd|handle]
 *
 * Loads DBDIR (e.g. the bench's two test signatures), then scans FILE once with the options
 * deskmilter uses (core/virus_scanner.cc): "fd" through cl_scandesc_callback, as deskmilter scans
 * an attachment on disk; "handle" through cl_fmap_open_handle + cl_scanmap_callback with a pread
 * callback and libclamav's page aging on. A second thread samples RssAnon and RssFile from
 * /proc/self/status every 5 ms; it prints the growth of each over the value before the scan.
 * Not part of the test command; no timed assertions. */
#include <clamav.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int stop_sampling;
static long peak_anon, peak_file;

static void read_rss(long *anon, long *file) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (f == NULL) return;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "RssAnon:", 8) == 0) *anon = atol(line + 8);
    if (strncmp(line, "RssFile:", 8) == 0) *file = atol(line + 8);
  }
  fclose(f);
}

static void *sample(void *unused) {
  (void)unused;
  while (!stop_sampling) {
    long a = 0, f = 0;
    read_rss(&a, &f);
    if (a > peak_anon) peak_anon = a;
    if (f > peak_file) peak_file = f;
    usleep(5000);
  }
  return NULL;
}

static off_t pread_handle(void *handle, void *buf, size_t count, off_t offset) {
  return pread(*(int *)handle, buf, count, offset);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DBDIR FILE [fd|handle]\n", argv[0]);
    return 2;
  }
  const int by_handle = argc > 3 && strcmp(argv[3], "handle") == 0;
  unsigned int sigs = 0;
  if (cl_init(CL_INIT_DEFAULT) != CL_SUCCESS) return 1;
  struct cl_engine *engine = cl_engine_new();
  if (engine == NULL || cl_load(argv[1], engine, &sigs, CL_DB_STDOPT) != CL_SUCCESS) {
    fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  cl_engine_set_num(engine, CL_ENGINE_MAX_SCANSIZE, 419430400);
  cl_engine_set_num(engine, CL_ENGINE_MAX_FILESIZE, 104857600);
  if (cl_engine_compile(engine) != CL_SUCCESS) return 1;
  int fd = open(argv[2], O_RDONLY);
  if (fd < 0) {
    perror(argv[2]);
    return 1;
  }
  long anon0 = 0, file0 = 0;
  read_rss(&anon0, &file0);
  peak_anon = anon0;
  peak_file = file0;
  pthread_t sampler;
  pthread_create(&sampler, NULL, sample, NULL);
  struct cl_scan_options opts;
  memset(&opts, 0, sizeof opts);
  opts.general = CL_SCAN_GENERAL_HEURISTICS;
  opts.parse = ~0u;
  opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
  const char *virname = NULL;
  unsigned long scanned = 0;
  cl_error_t r;
  if (by_handle) {
    cl_fmap_t *map = cl_fmap_open_handle(&fd, 0, (size_t)lseek(fd, 0, SEEK_END), pread_handle, 1);
    r = cl_scanmap_callback(map, NULL, &virname, &scanned, engine, &opts, NULL);
    cl_fmap_close(map);
  } else {
    r = cl_scandesc_callback(fd, NULL, &virname, &scanned, engine, &opts, NULL);
  }
  stop_sampling = 1;
  pthread_join(sampler, NULL);
  printf("%s: %s, %u signatures, RssAnon +%.1f MiB, RssFile +%.1f MiB (before: %.1f / %.1f MiB)\n",
         by_handle ? "handle" : "fd", cl_strerror(r), sigs, (peak_anon - anon0) / 1024.0,
         (peak_file - file0) / 1024.0, anon0 / 1024.0, file0 / 1024.0);
  close(fd);
  cl_engine_free(engine);
  return 0;
}
