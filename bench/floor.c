/*
 * Physical floors for bench/bench.ts, compiled with `cc -O2` into a temp dir
 * at bench time. No RPC, no Arrow: only the kernel's pipe and unix socket.
 *
 *   floor rtt pipe|unix N SIZE     fork; SIZE bytes each way, N round trips; JSON on stdout
 *   floor bw  pipe|unix BYTES CHUNK fork; the child writes BYTES in CHUNK writes, the parent reads
 *   floor echo SIZE                 echo SIZE-byte messages stdin -> stdout until EOF
 *   floor echo-unix PATH SIZE       the same over one accepted connection on a unix socket PATH
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int read_full(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const char *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = write(fd, buf + put, n - put);
    if (w <= 0) return -1;
    put += (size_t)w;
  }
  return 0;
}

static void echo_loop(int in, int out, size_t size) {
  char *buf = malloc(size);
  while (read_full(in, buf, size) == 0)
    if (write_full(out, buf, size) != 0) break;
  free(buf);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* fds[0]/fds[1]: parent's read/write ends; cfds: child's read/write ends. */
static int channel(const char *kind, int fds[2], int cfds[2]) {
  if (strcmp(kind, "pipe") == 0) {
    int a[2], b[2];
    if (pipe(a) || pipe(b)) return -1;
    fds[0] = b[0]; fds[1] = a[1]; cfds[0] = a[0]; cfds[1] = b[1];
    return 0;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return -1;
  fds[0] = fds[1] = sv[0];
  cfds[0] = cfds[1] = sv[1];
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "echo") == 0) {
    echo_loop(0, 1, (size_t)atol(argv[2]));
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "echo-unix") == 0) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[2], sizeof addr.sun_path - 1);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) || listen(s, 1)) { perror("bind"); return 1; }
    printf("READY\n");
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0) { perror("accept"); return 1; }
    echo_loop(c, c, (size_t)atol(argv[3]));
    unlink(argv[2]);
    return 0;
  }
  if (argc < 5) { fprintf(stderr, "usage: see floor.c\n"); return 2; }
  int fds[2], cfds[2];
  if (channel(argv[2], fds, cfds)) { perror("channel"); return 1; }
  if (strcmp(argv[1], "rtt") == 0) {
    long n = atol(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]); if (fds[1] != fds[0]) close(fds[1]);
      echo_loop(cfds[0], cfds[1], size);
      _exit(0);
    }
    close(cfds[0]); if (cfds[1] != cfds[0]) close(cfds[1]);
    char *buf = calloc(1, size);
    double *lat = malloc(sizeof(double) * n);
    double start = now_ns();
    for (long i = 0; i < n; i++) {
      double t0 = now_ns();
      if (write_full(fds[1], buf, size) || read_full(fds[0], buf, size)) { fprintf(stderr, "rtt: short\n"); return 1; }
      lat[i] = now_ns() - t0;
    }
    double elapsed = (now_ns() - start) / 1e9;
    close(fds[1]); if (fds[0] != fds[1]) close(fds[0]);
    waitpid(pid, NULL, 0);
    qsort(lat, n, sizeof(double), cmp_double);
    printf("{\"per_s\": %.1f, \"p50_us\": %.3f, \"p99_us\": %.3f}\n", n / elapsed, lat[n / 2] / 1e3, lat[(long)(n * 0.99)] / 1e3);
    return 0;
  }
  if (strcmp(argv[1], "bw") == 0) {
    long long total = atoll(argv[3]);
    size_t chunk = (size_t)atol(argv[4]);
    char *buf = calloc(1, chunk);
    double start = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]); if (fds[1] != fds[0]) close(fds[1]);
      for (long long put = 0; put < total; put += (long long)chunk)
        if (write_full(cfds[1], buf, chunk)) _exit(1);
      _exit(0);
    }
    close(cfds[0]); if (cfds[1] != cfds[0]) close(cfds[1]);
    long long got = 0;
    for (;;) {
      ssize_t r = read(fds[0], buf, chunk);
      if (r <= 0) break;
      got += r;
    }
    double elapsed = (now_ns() - start) / 1e9;
    waitpid(pid, NULL, 0);
    printf("{\"mb_per_s\": %.1f, \"bytes\": %lld}\n", got / elapsed / 1e6, got);
    return 0;
  }
  fprintf(stderr, "usage: see floor.c\n");
  return 2;
}
