/* Baseline for `npm run bench`: the cost of the raw syscall the addon makes,
 * one pread on a kept descriptor plus a decimal parse, measured in C. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/proc/sys/kernel/tainted";
  long n = argc > 2 ? atol(argv[2]) : 1000000;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { perror("open"); return 2; }
  char buf[32];
  unsigned long sink = 0;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    ssize_t r = pread(fd, buf, sizeof buf, 0);
    if (r < 0) { perror("pread"); return 2; }
    unsigned long v = 0;
    for (ssize_t j = 0; j < r && buf[j] >= '0' && buf[j] <= '9'; j++) v = v * 10 + (unsigned)(buf[j] - '0');
    sink += v;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n;
  printf("%.1f %lu\n", ns, sink);
  return 0;
}
