// SPDX-License-Identifier: GPL-2.0
/*
 * getppid_loop: the benchmark's syscall workload (scripts/bench).
 *
 *   getppid_loop [-l] SECONDS [RATE]
 *
 * RATE 0 or absent: closed loop, getppid as fast as possible for SECONDS.
 * RATE > 0: open loop, paced to RATE calls/s (the schedule does not wait for
 * slow calls: a late generator catches up in bursts, as real load does).
 * Prints one JSON line: timed calls, untimed warm-up calls before them (closed
 * loop only), elapsed ns, wall ns per call, the thread's CPU ns per call
 * (time spent descheduled excluded: on a shared machine that is most of the
 * noise), the median over ~10 ms slices of wall ns per call, and calls/s.
 *
 * -l (S5): also time every call and print a log-linear latency histogram:
 * "lat_hist" lists [low ns, width ns, count] of each non-empty bucket (exact
 * below 32 ns, then 32 buckets per power of two: under 3.2 % wide), plus the
 * exact min and max. A sample is the time between the clock reads around one
 * call, so it includes one vDSO clock read (~20 ns here) in every
 * configuration alike. Without -l nothing is timed per call.
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "loop.h"

/* calls between two clock reads: amortises clock_gettime to ~0.1 ns/call */
#define BATCH 256
#define WARMUP 2000
/* latency histogram: 2^SUB_BITS buckets per power of two, values up to 2^MAX_EXP ns */
#define SUB_BITS 5
#define SUB (1 << SUB_BITS)
#define MAX_EXP 40
#define NBUCKETS ((MAX_EXP - SUB_BITS + 1) * SUB)

/* syscall(), not getppid(): no libc may ever cache the answer */
static inline void one_call(void)
{
	syscall(SYS_getppid);
}

static long long hist[NBUCKETS];
static long long lat_min = -1, lat_max;

static inline int bucket(long long v)
{
	int e;

	if (v < SUB)
		return v < 0 ? 0 : (int)v;
	e = 63 - __builtin_clzll((unsigned long long)v);
	if (e >= MAX_EXP)
		return NBUCKETS - 1;
	return (e - SUB_BITS + 1) * SUB + (int)((v >> (e - SUB_BITS)) & (SUB - 1));
}

/* n calls, each timed from the previous clock read `t`; returns the last read */
static long long timed_calls(long long n, long long t)
{
	for (long long i = 0; i < n; i++) {
		long long u, d;

		one_call();
		u = now_ns();
		d = u - t;
		hist[bucket(d)]++;
		if (d > lat_max)
			lat_max = d;
		if (lat_min < 0 || d < lat_min)
			lat_min = d;
		t = u;
	}
	return t;
}

static void print_hist(void)
{
	int first = 1;

	printf(", \"lat_min_ns\": %lld, \"lat_max_ns\": %lld, \"lat_hist\": [", lat_min, lat_max);
	for (int i = 0; i < NBUCKETS; i++) {
		long long lo, width;
		int e;

		if (!hist[i])
			continue;
		if (i < SUB) {
			lo = i;
			width = 1;
		} else {
			e = i / SUB + SUB_BITS - 1;
			width = 1LL << (e - SUB_BITS);
			lo = (long long)(SUB + i % SUB) << (e - SUB_BITS);
		}
		printf("%s[%lld, %lld, %lld]", first ? "" : ", ", lo, width, hist[i]);
		first = 0;
	}
	printf("]");
}

int main(int argc, char **argv)
{
	double seconds, rate = 0;
	long long start, end, limit, calls = 0, cpu_start, cpu_end, slice_start, slice_calls = 0;
	int latency = 0;

	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		latency = 1;
		argv++;
		argc--;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s [-l] SECONDS [RATE]\n", argv[0]);
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
		end = start;
		do {
			if (latency) {
				end = timed_calls(BATCH, end);
			} else {
				for (int i = 0; i < BATCH; i++)
					one_call();
				end = now_ns();
			}
			calls += BATCH;
			slice_add(end, BATCH, &slice_start, &slice_calls);
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
			if (latency)
				timed_calls(due, end);
			else
				for (long long i = 0; i < due; i++)
					one_call();
			calls += due;
		}
		end = now_ns();
	}
	cpu_end = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	/* a paced run descheduled for all of a short SECONDS makes no call: print_fields prints 0 per call */
	print_fields(calls, rate == 0 ? WARMUP : 0, end - start, cpu_end - cpu_start);
	if (latency)
		print_hist();
	printf("}\n");
	return 0;
}
