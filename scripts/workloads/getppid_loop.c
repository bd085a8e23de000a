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
 * loop only), elapsed ns, wall ns per call, the thread's CPU ns per call
 * (time spent descheduled excluded: on a shared machine that is most of the
 * noise), the median over ~10 ms slices of wall ns per call, and calls/s.
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
#define SLICE_NS 10000000LL
#define MAX_SLICES 8192

static inline long long clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline long long now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static double slices[MAX_SLICES];
static int nslices;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* syscall(), not getppid(): no libc may ever cache the answer */
static inline void one_call(void)
{
	syscall(SYS_getppid);
}

int main(int argc, char **argv)
{
	double seconds, rate = 0, slice_median = 0;
	long long start, end, limit, calls = 0, cpu_start, cpu_end, slice_start, slice_calls = 0;

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
	cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	start = slice_start = now_ns();
	if (rate == 0) {
		do {
			for (int i = 0; i < BATCH; i++)
				one_call();
			calls += BATCH;
			slice_calls += BATCH;
			end = now_ns();
			if (end - slice_start >= SLICE_NS && nslices < MAX_SLICES) {
				slices[nslices++] = (double)(end - slice_start) / slice_calls;
				slice_start = end;
				slice_calls = 0;
			}
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
	cpu_end = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (nslices) {
		qsort(slices, nslices, sizeof(slices[0]), cmp_double);
		slice_median = slices[nslices / 2];
	}
	printf("{\"calls\": %lld, \"warmup\": %d, \"ns\": %lld, \"ns_per_call\": %.3f, "
	       "\"cpu_ns_per_call\": %.3f, \"slice_median_ns_per_call\": %.3f, \"calls_per_s\": %.1f}\n",
	       calls, rate == 0 ? WARMUP : 0, end - start, (double)(end - start) / calls,
	       (double)(cpu_end - cpu_start) / calls, slice_median, calls * 1e9 / (end - start));
	return 0;
}
