// An Emscripten-built C program for tests/tests/emscripten.rs: argv, a
// large memset/memcpy/memmove (over the 512 bytes at which Emscripten's
// memcpy calls emscripten_memcpy_big), heap growth, file I/O, stat,
// directories and exit status. Each argument after argv[0] is a command:
// `files` (file I/O, stat and directories, which a -sSTANDALONE_WASM build
// of Emscripten 3.1.6 does not implement: its open() is EPERM), `exit`
// (exit(7)) or `abort`; main returns 42. Paths are relative: the test runs
// it with its working directory (node) or preopen (`--dir DIR::/`) on a
// scratch directory.
#include <assert.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned checksum(const unsigned char *p, size_t n) {
  unsigned h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static int files(void);

int main(int argc, char **argv) {
  printf("argc=%d argv0=%s\n", argc, argv[0]);
  for (int i = 1; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);

  // 48 MiB in three blocks: the heap must grow past its initial 16 MiB.
  size_t n = 16u << 20;
  unsigned char *a = malloc(n), *b = malloc(n), *c = malloc(n);
  if (!a || !b || !c) { puts("malloc failed"); return 2; }
  memset(a, 0x5a, n);
  for (size_t i = 0; i < n; i += 4093) a[i] = (unsigned char)i;
  memcpy(b, a, n);
  memmove(b + 1000, b, 100000);  // overlapping, forwards
  memmove(b, b + 3000, 100000);  // overlapping, backwards
  memcpy(c, b, 600);
  printf("memcpy %08x %08x %08x\n", checksum(a, n), checksum(b, n), checksum(c, 600));

  printf("time after 2020: %d\n", time(NULL) > 1577836800);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "files") == 0 && files() != 0) return 3;
    if (strcmp(argv[i], "exit") == 0) exit(7);
    if (strcmp(argv[i], "abort") == 0) abort();
  }
  return 42;
}

static int files(void) {
  FILE *f = fopen("out.txt", "w");
  if (!f) { perror("fopen w"); return 1; }
  for (int i = 0; i < 1000; i++) fprintf(f, "line %d\n", i);
  fclose(f);
  f = fopen("out.txt", "r");
  if (!f) { perror("fopen r"); return 1; }
  char line[64], last[64] = "";
  int lines = 0;
  while (fgets(line, sizeof line, f)) { lines++; strcpy(last, line); }
  fclose(f);
  printf("read %d lines, last %s", lines, last);

  struct stat st;
  if (stat("out.txt", &st) != 0) { perror("stat"); return 1; }
  printf("size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  printf("missing: %d\n", fopen("no/such/file", "r") == NULL);

  if (mkdir("sub", 0755) != 0) { perror("mkdir"); return 1; }
  f = fopen("sub/x", "w");
  fputs("x", f);
  fclose(f);
  if (rename("sub/x", "sub/y") != 0) { perror("rename"); return 1; }
  DIR *d = opendir("sub");
  if (!d) { perror("opendir"); return 1; }
  int entries = 0, y = 0;
  struct dirent *e;
  while ((e = readdir(d))) { entries++; y += strcmp(e->d_name, "y") == 0; }
  closedir(d);
  printf("sub has %d entries, y %d\n", entries, y);
  if (unlink("sub/y") != 0 || rmdir("sub") != 0 || unlink("out.txt") != 0) {
    perror("cleanup");
    return 1;
  }
  return 0;
}
