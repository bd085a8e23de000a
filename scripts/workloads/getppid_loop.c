// SPDX-License-Identifier: GPL-2.0
/*
 * getppid_loop: the benchmark's syscall workload (scripts/bench).
 *
 *   getppid_loop SECONDS [RATE]
 *
 * RATE 0 or absent: closed loop, getppid as fast as possible for SECONDS.
 * RATE > 0: open loop, paced to RATE calls/s (the schedule does not wait for
 * slow calls: a late generator catches up in bursts, as real load does).
 * Prints one JSON line: timed calls, untimed warm-up calls before them (closed
 * loop only), elapsed ns, ns per call, calls per second.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

/* calls between two clock reads: amortises clock_gettime to ~0.1 ns/call */
#define BATCH 256
#define WARMUP 2000

static inline long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* syscall(), not getppid(): no libc may ever cache the answer */
static inline void one_call(void)
{
	syscall(SYS_getppid);
}

int main(int argc, char **argv)
{
	double seconds, rate = 0;
	long long start, end, limit, calls = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s SECONDS [RATE]\n", argv[0]);
		return 2;
	}
	seconds = atof(argv[1]);
	if (argc == 3)
		rate = atof(argv[2]);
	if (seconds <= 0 || rate < 0) {
		fprintf(stderr, "getppid_loop: SECONDS must be > 0 and RATE >= 0\n");
		return 2;
	}
	for (int i = 0; i < WARMUP && rate == 0; i++)
		one_call();
	limit = (long long)(seconds * 1e9);
	start = now_ns();
	if (rate == 0) {
		do {
			for (int i = 0; i < BATCH; i++)
				one_call();
			calls += BATCH;
			end = now_ns();
		} while (end - start < limit);
	} else {
		for (;;) {
			end = now_ns();
			if (end - start >= limit)
				break;
			long long due = (long long)((end - start) * rate / 1e9) - calls;

			if (due <= 0)
				continue;
			if (due > BATCH)
				due = BATCH;
			for (long long i = 0; i < due; i++)
				one_call();
			calls += due;
		}
		end = now_ns();
	}
	printf("{\"calls\": %lld, \"warmup\": %d, \"ns\": %lld, \"ns_per_call\": %.3f, \"calls_per_s\": %.1f}\n",
	       calls, rate == 0 ? WARMUP : 0, end - start, (double)(end - start) / calls, calls * 1e9 / (end - start));
	return 0;
}
