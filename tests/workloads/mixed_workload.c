/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A deterministic mix of syscalls with known outcomes, for comparing kernel
 * audit and bpfaudit on the same rules: raw syscall(2) throughout.
 * usage: mixed_workload DIR
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char a[4096], b[4096];
	long fd;

	if (argc != 2)
		return 2;
	snprintf(a, sizeof(a), "%s/a", argv[1]);
	snprintf(b, sizeof(b), "%s/b", argv[1]);

	fd = syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);	/* ok */
	syscall(SYS_close, fd);
	syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY);	/* -ENOENT */
	fd = syscall(SYS_openat, AT_FDCWD, a, O_CREAT | O_WRONLY, 0600);	/* ok, create */
	syscall(SYS_close, fd);
	syscall(SYS_chmod, a, 0640);					/* ok */
	syscall(SYS_chmod, "/nonexistent/x", 0640);			/* -ENOENT */
	syscall(SYS_rename, a, b);					/* ok */
	syscall(SYS_unlink, b);						/* ok */
	syscall(SYS_unlink, b);						/* -ENOENT */
	for (int i = 0; i < 3; i++)
		syscall(SYS_getppid, 7, 0, 0, 0);			/* a0 = 7 */
	syscall(SYS_getppid, 8, 0, 0, 0);				/* a0 = 8 */
	syscall(SYS_kill, 0x7ffffff0, 0);				/* -ESRCH */
	syscall(SYS_kill, getpid(), 0);					/* ok */
	return 0;
}
