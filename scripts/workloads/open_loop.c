// SPDX-License-Identifier: GPL-2.0
/*
 * open_loop: the benchmark's openat workload (scripts/bench, S7).
 *
 *   open_loop SECONDS FILE
 *
 * openat(AT_FDCWD, FILE, O_RDONLY) and close() of the descriptor, again and
 * again for SECONDS, after WARMUP untimed rounds. FILE is meant to be an
 * existing small file (S7 opens /etc/hostname unless told otherwise): the
 * open, not the file, is what is measured. An open that fails ends the run
 * with exit status 1: every counted round is one successful openat. Raw
 * syscall()s, so no libc turns openat into another call or caches anything.
 * Prints one JSON line in getppid_loop's shape, a "call" being one openat
 * (the close is not recorded: S7's rule lists openat only): timed calls,
 * warm-up calls, elapsed ns, wall ns per call, the thread's CPU ns per call,
 * the median over ~10 ms slices of wall ns per call, and calls/s.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "loop.h"

/* rounds between two clock reads: an openat is ~1 us, so the clock costs ~0.1 % */
#define BATCH 16
#define WARMUP 1000

/* one openat + close; 0 when the open succeeded */
static inline int one_round(const char *file)
{
	long fd = syscall(SYS_openat, AT_FDCWD, file, O_RDONLY);

	if (fd < 0)
		return -1;
	syscall(SYS_close, fd);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds;
	long long start, end, limit, calls = 0, cpu_start, cpu_end, slice_start, slice_calls = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SECONDS FILE\n", argv[0]);
		return 2;
	}
	seconds = atof(argv[1]);
	if (seconds <= 0) {
		fprintf(stderr, "open_loop: SECONDS must be > 0\n");
		return 2;
	}
	for (int i = 0; i < WARMUP; i++) {
		if (one_round(argv[2])) {
			perror("open_loop: openat");
			return 1;
		}
	}
	limit = (long long)(seconds * 1e9);
	cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	start = slice_start = end = now_ns();
	do {
		for (int i = 0; i < BATCH; i++) {
			if (one_round(argv[2])) {
				perror("open_loop: openat");
				return 1;
			}
		}
		end = now_ns();
		calls += BATCH;
		slice_add(end, BATCH, &slice_start, &slice_calls);
	} while (end - start < limit);
	cpu_end = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	print_fields(calls, WARMUP, end - start, cpu_end - cpu_start);
	printf("}\n");
	return 0;
}
