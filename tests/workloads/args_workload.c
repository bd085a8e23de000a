/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Issues getppid(2) with the raw arguments given on stdin, one call per line
 * "a0 a1 a2 a3" (hex), then prints "done" and waits for a line: the
 * differential test compares which of these calls BPF and the reference
 * evaluator record.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	unsigned long a[4];
	char line[256];

	while (fgets(line, sizeof(line), stdin) && line[0] != '\n') {
		if (sscanf(line, "%lx %lx %lx %lx", &a[0], &a[1], &a[2], &a[3]) != 4)
			return 2;
		syscall(SYS_getppid, a[0], a[1], a[2], a[3]);
	}
	printf("done\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	return 0;
}
