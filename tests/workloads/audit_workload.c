/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A workload with exactly known syscalls for the integration tests: raw
 * syscall(2) so that libc cannot substitute one call for another.
 * usage: audit_workload DIR N   (prints "pid ppid ses fd", waits for a line, execs /bin/true)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char victim[4096], ses[32] = "";
	long fd, i, n;
	FILE *f;

	if (argc != 3)
		return 2;
	n = atol(argv[2]);
	snprintf(victim, sizeof(victim), "%s/victim", argv[1]);
	f = fopen("/proc/self/sessionid", "r");
	if (f) {
		if (!fgets(ses, sizeof(ses), f))
			ses[0] = 0;
		fclose(f);
	}

	fd = syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
	syscall(SYS_openat, AT_FDCWD, "/nonexistent/bpfaudit", O_RDONLY);
	close(syscall(SYS_openat, AT_FDCWD, victim, O_CREAT | O_WRONLY, 0600));
	syscall(SYS_unlink, victim);
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);

	printf("%d %d %s %ld\n", getpid(), getppid(), ses, fd);
	fflush(stdout);
	/* stay alive until the test has read our records (exe is resolved from /proc) */
	char line[8];
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	execl("/bin/true", "true", (char *)NULL);
	return 4;
}
