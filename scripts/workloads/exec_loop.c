// SPDX-License-Identifier: GPL-2.0
/*
 * exec_loop: the benchmark's exec workload (scripts/bench, S6).
 *
 *   exec_loop SECONDS PROGRAM
 *
 * fork(), execve(PROGRAM) in the child (argv: PROGRAM alone, this process's
 * environment), waitpid() in the parent: again and again for SECONDS, after
 * WARMUP untimed rounds. PROGRAM is meant to be tiny (scripts/bench builds a
 * static `return 0` as build/exec_true), so that the exec itself, not what the
 * program does, is most of a round. A child that does not exit 0 (the exec
 * failed) ends the run with exit status 1: every counted round is one exec.
 * Prints one JSON line in getppid_loop's shape, a "call" being one round:
 * timed rounds, warm-up rounds, elapsed ns, wall ns per round, CPU ns per
 * round of this process and its children (the exec's work is the child's),
 * the median over ~10 ms slices of wall ns per round, and rounds/s.
 */
#define _GNU_SOURCE
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "loop.h"

#define WARMUP 20

extern char **environ;

/* CPU of this process and of its waited-for children */
static long long cpu_ns(void)
{
	struct rusage self, kids;
	long long t = 0;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	t += (self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1000000000LL;
	t += (self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) * 1000LL;
	return t;
}

/* one fork + exec + wait; 0 when the child exited 0 */
static int one_round(char *program)
{
	char *argv[] = { program, NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("exec_loop: fork");
		return -1;
	}
	if (pid == 0) {
		execve(program, argv, environ);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	double seconds;
	long long start, end, limit, rounds = 0, cpu_start, cpu_end, slice_start, slice_rounds = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SECONDS PROGRAM\n", argv[0]);
		return 2;
	}
	seconds = atof(argv[1]);
	if (seconds <= 0) {
		fprintf(stderr, "exec_loop: SECONDS must be > 0\n");
		return 2;
	}
	for (int i = 0; i < WARMUP; i++) {
		if (one_round(argv[2])) {
			fprintf(stderr, "exec_loop: executing %s failed\n", argv[2]);
			return 1;
		}
	}
	limit = (long long)(seconds * 1e9);
	cpu_start = cpu_ns();
	start = slice_start = end = now_ns();
	do {
		if (one_round(argv[2])) {
			fprintf(stderr, "exec_loop: executing %s failed\n", argv[2]);
			return 1;
		}
		end = now_ns();
		rounds++;
		slice_add(end, 1, &slice_start, &slice_rounds);
	} while (end - start < limit);
	cpu_end = cpu_ns();
	print_fields(rounds, WARMUP, end - start, cpu_end - cpu_start);
	printf("}\n");
	return 0;
}
