// A redis-server whose wall clock a test can step while it runs: preloaded (LD_PRELOAD), this
// adds the offset (int64 ms) kept in the file REDIS_CLOCK_OFFSET_FILE to every wall-clock read
// (gettimeofday, clock_gettime of CLOCK_REALTIME*, time), which is what Redis TIME reports.
// The file is mapped once, so a step is one write of 8 bytes, seen by the next read.
// The real clocks are read by system call (no dlsym, no allocation), so jemalloc's own early
// clock reads cannot recurse into this shim (what libfaketime trips on with redis-server).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int64_t *offset_ms;
static int mapped;

static int64_t offset_us(void) {
  if (!mapped) {
    mapped = 1;
    const char *path = getenv("REDIS_CLOCK_OFFSET_FILE");
    int fd = path ? open(path, O_RDONLY) : -1;
    if (fd >= 0) {
      void *map = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
      close(fd);
      if (map != MAP_FAILED) offset_ms = map;
    }
  }
  return offset_ms ? *offset_ms * 1000 : 0;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
  int result = (int)syscall(SYS_clock_gettime, clock, ts);
  if (result == 0 && ts &&
      (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) {
    int64_t ns = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_us() * 1000;
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
  }
  return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
  struct timespec ts;
  int result = clock_gettime(CLOCK_REALTIME, &ts);
  if (result == 0 && tv) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  (void)tz;
  return result;
}

time_t time(time_t *out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}
