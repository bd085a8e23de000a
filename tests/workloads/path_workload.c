/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Issues pathname syscalls named on stdin, one per line: "o PATH" is
 * openat(AT_FDCWD, PATH, O_RDONLY), "r OLD NEW" is renameat(AT_FDCWD, OLD,
 * AT_FDCWD, NEW); then prints "done" and waits for a line. The path=/dir=
 * test compares what BPF and user space decide with the reference evaluator.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	char line[1200], a[600], b[600];

	while (fgets(line, sizeof(line), stdin) && line[0] != '\n') {
		if (line[0] == 'o' && sscanf(line + 2, "%599s", a) == 1) {
			long fd = syscall(SYS_openat, AT_FDCWD, a, O_RDONLY);

			if (fd >= 0)
				close(fd);
		} else if (line[0] == 'r' && sscanf(line + 2, "%599s %599s", a, b) == 2) {
			syscall(SYS_renameat, AT_FDCWD, a, AT_FDCWD, b);
		} else {
			return 2;
		}
	}
	printf("done\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	return 0;
}
