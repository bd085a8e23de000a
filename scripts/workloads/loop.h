/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmark's loops (getppid_loop, exec_loop, open_loop) share: the
 * clocks, wall ns per call over ~10 ms slices, and the fields of the one JSON
 * line each prints (tracer/bench/workload.py parses it).
 */
#ifndef BENCH_LOOP_H
#define BENCH_LOOP_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SLICE_NS 10000000LL
#define MAX_SLICES 8192

static double slices[MAX_SLICES];
static int nslices;

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* `n` more calls, the last ending at `end`: a slice closes once SLICE_NS have passed since it opened */
static inline void slice_add(long long end, long long n, long long *slice_start, long long *slice_calls)
{
	*slice_calls += n;
	if (end - *slice_start >= SLICE_NS && nslices < MAX_SLICES) {
		slices[nslices++] = (double)(end - *slice_start) / *slice_calls;
		*slice_start = end;
		*slice_calls = 0;
	}
}

static double slice_median(void)
{
	if (!nslices)
		return 0;
	qsort(slices, nslices, sizeof(slices[0]), cmp_double);
	return slices[nslices / 2];
}

/*
 * The result line without its closing brace (getppid_loop -l appends its
 * histogram): calls, warm-up calls, elapsed ns, wall and CPU ns per call (0,
 * not inf, without calls: inf is not JSON), the slices' median, calls/s.
 */
static void print_fields(long long calls, int warmup, long long ns, long long cpu_ns)
{
	printf("{\"calls\": %lld, \"warmup\": %d, \"ns\": %lld, \"ns_per_call\": %.3f, "
	       "\"cpu_ns_per_call\": %.3f, \"slice_median_ns_per_call\": %.3f, \"calls_per_s\": %.1f",
	       calls, warmup, ns, calls ? (double)ns / calls : 0, calls ? (double)cpu_ns / calls : 0, slice_median(),
	       calls * 1e9 / ns);
}

#endif /* BENCH_LOOP_H */
