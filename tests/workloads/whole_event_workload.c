/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One deterministic run of the calls whose whole audit event (SYSCALL,
 * EXECVE, CWD, PATH, PROCTITLE, SOCKADDR) kernel audit and bpfaudit must
 * both write: execs with awkward arguments, a script, file calls that
 * succeed and fail, relative and over-long names, sockets, a failing
 * setuid, i386 calls by int $0x80, and an exec that no rule records.
 * Raw syscall(2) wherever the call is the one under test.
 * usage: whole_event_workload DIR    (DIR: an empty directory it may fill)
 * Exits 1 when a call did not succeed or fail as planned (said on stderr).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#define REEXEC_FD 77		/* execveat(REEXEC_FD, ...): the rules' never rule */
#define AFTER_EXEC "--after-exec"
#define I386_OPEN 5

extern char **environ;
static int failures;

/* the call returned as planned: >= 0 when ok, < 0 when not */
static long want(const char *what, int ok, long ret)
{
	if ((ret >= 0) != ok) {
		fprintf(stderr, "%s: returned %ld, expected %s\n", what, ret, ok ? "success" : "failure");
		failures++;
	}
	return ret;
}

#define OK(call) want(#call, 1, call)
#define FAIL(call) want(#call, 0, call)

/* fork, execve in the child, wait: the child's execve event is the one recorded */
static void spawn(const char *path, char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		syscall(SYS_execve, path, argv, environ);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		want(path, 1, -1);
}

static void execs(const char *dir)
{
	static char big[9001];
	/* spaces, quotes, newline, a non-UTF-8 byte, an empty one, 9000 bytes */
	char *awkward[] = { "/bin/true", "two words", "\"q'uote\"", "new\nline", "bad\xff" "byte", "",
			    big, NULL };
	char script[4096];
	char *sargv[] = { script, "arg one", NULL };
	long fd;

	memset(big, 'x', 9000);
	spawn("/bin/true", awkward);

	snprintf(script, sizeof(script), "%s/script.sh", dir);
	fd = OK(syscall(SYS_openat, AT_FDCWD, script, O_CREAT | O_WRONLY | O_TRUNC, 0600));
	if (write(fd, "#!/bin/sh\nexit 0\n", 17) != 17)
		want("write script", 1, -1);
	close(fd);
	OK(syscall(SYS_chmod, script, 0755));
	spawn(script, sargv);

	FAIL(syscall(SYS_execve, "/nonexistent/prog", awkward, environ));

	/*
	 * A literal no one reads before execve: fork does not copy the page
	 * tables of file-backed mappings, so the child's page holding it is
	 * absent until the kernel's getname() faults it in, after sys_enter.
	 */
	for (int i = 0; i < 20; i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			char *targv[] = { "true", NULL };

			syscall(SYS_execve, "/usr/bin/true", targv, environ);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			want("/usr/bin/true", 1, -1);
	}
	OK(syscall(SYS_unlink, script));
}

static void files(const char *dir)
{
	char a[4096], b[4096], c[4096], d[4096], d2[4096], db[4096], miss[4096];
	long dfd;

	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(c, sizeof(c), "%s/c", dir);
	snprintf(d, sizeof(d), "%s/d", dir);
	snprintf(d2, sizeof(d2), "%s/d2", dir);
	snprintf(db, sizeof(db), "%s/d/b", dir);
	snprintf(miss, sizeof(miss), "%s/missing/x", dir);

	close(OK(syscall(SYS_open, a, O_CREAT | O_WRONLY, 0600)));
	FAIL(syscall(SYS_open, miss, O_RDONLY));
	close(OK(syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY)));
	FAIL(syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY));
	close(OK(syscall(SYS_creat, c, 0600)));
	FAIL(syscall(SYS_creat, miss, 0600));
	OK(syscall(SYS_chmod, a, 0640));
	FAIL(syscall(SYS_chmod, miss, 0640));
	OK(syscall(SYS_fchmodat, AT_FDCWD, a, 0600, 0));
	FAIL(syscall(SYS_fchmodat, AT_FDCWD, miss, 0600, 0));
	OK(syscall(SYS_chown, a, 0, 0));
	FAIL(syscall(SYS_chown, miss, 0, 0));
	OK(syscall(SYS_fchownat, AT_FDCWD, a, 0, 0, 0));
	FAIL(syscall(SYS_fchownat, AT_FDCWD, miss, 0, 0, 0));
	OK(syscall(SYS_mkdir, d, 0700));
	FAIL(syscall(SYS_mkdir, d, 0700));			/* -EEXIST */
	OK(syscall(SYS_mkdirat, AT_FDCWD, d2, 0700));
	FAIL(syscall(SYS_mkdirat, AT_FDCWD, miss, 0700));
	OK(syscall(SYS_rename, a, b));
	FAIL(syscall(SYS_rename, a, b));
	OK(syscall(SYS_renameat, AT_FDCWD, b, AT_FDCWD, db));
	FAIL(syscall(SYS_renameat, AT_FDCWD, b, AT_FDCWD, db));
	OK(syscall(SYS_unlink, c));
	FAIL(syscall(SYS_unlink, c));
	/* names relative to a directory fd, not to the cwd */
	dfd = OK(syscall(SYS_openat, AT_FDCWD, d, O_RDONLY | O_DIRECTORY));
	close(OK(syscall(SYS_openat, dfd, "b", O_RDONLY)));
	OK(syscall(SYS_unlinkat, dfd, "b", 0));
	FAIL(syscall(SYS_unlinkat, dfd, "b", 0));
	close(dfd);
	OK(syscall(SYS_unlinkat, AT_FDCWD, d2, AT_REMOVEDIR));
	OK(syscall(SYS_rmdir, d));
	FAIL(syscall(SYS_rmdir, d));

	/* relative names from the cwd, and from a subdirectory: sub/x, ../x */
	OK(syscall(SYS_chdir, dir));
	FAIL(syscall(SYS_chdir, "nonexistent"));
	OK(syscall(SYS_mkdir, "sub", 0700));
	close(OK(syscall(SYS_creat, "sub/x", 0600)));
	OK(syscall(SYS_chdir, "sub"));
	FAIL(syscall(SYS_openat, AT_FDCWD, "../x", O_RDONLY));
	close(OK(syscall(SYS_openat, AT_FDCWD, "x", O_RDONLY)));
	OK(syscall(SYS_rename, "x", "../x"));
	OK(syscall(SYS_unlink, "../x"));
	OK(syscall(SYS_chdir, ".."));
	OK(syscall(SYS_rmdir, "sub"));
}

static void long_names(const char *dir)
{
	char name[512], path[4096], comp[201];
	int n;

	/* a 313-byte name for a short real path */
	n = sprintf(name, "/");
	for (int i = 0; i < 150; i++)
		n += sprintf(name + n, "./");
	sprintf(name + n, "etc/hostname");
	close(OK(syscall(SYS_openat, AT_FDCWD, name, O_RDONLY)));

	/* a 600-byte real path: three 200-byte directories */
	memset(comp, 'L', 200);
	comp[200] = 0;
	n = snprintf(path, sizeof(path), "%s", dir);
	for (int i = 0; i < 3; i++) {
		n += snprintf(path + n, sizeof(path) - n, "/%s", comp);
		OK(syscall(SYS_mkdir, path, 0700));
	}
	snprintf(path + n, sizeof(path) - n, "/f");
	close(OK(syscall(SYS_creat, path, 0600)));
	OK(syscall(SYS_unlink, path));
	for (int i = 0; i < 3; i++) {
		path[n] = 0;
		OK(syscall(SYS_rmdir, path));
		n -= 201;
	}
}

static void sockets(const char *dir)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(1),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	socklen_t unlen;
	int s, t;

	/* a closed TCP port: -ECONNREFUSED */
	s = socket(AF_INET, SOCK_STREAM, 0);
	FAIL(syscall(SYS_connect, s, &in, sizeof(in)));
	close(s);

	/* a unix path that does not exist, then one bound and listening */
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/nosock", dir);
	unlen = offsetof(struct sockaddr_un, sun_path) + strlen(un.sun_path) + 1;
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	FAIL(syscall(SYS_connect, s, &un, unlen));
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/sock", dir);
	unlen = offsetof(struct sockaddr_un, sun_path) + strlen(un.sun_path) + 1;
	OK(syscall(SYS_bind, s, &un, unlen));
	listen(s, 1);
	t = socket(AF_UNIX, SOCK_STREAM, 0);
	OK(syscall(SYS_connect, t, &un, unlen));
	close(t);
	close(s);
	OK(syscall(SYS_unlink, un.sun_path));

	/* an abstract name: no path at all */
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(un.sun_path, "\0whole-event", 12);
	OK(syscall(SYS_bind, s, &un, offsetof(struct sockaddr_un, sun_path) + 12));
	close(s);
}

static void ids(void)
{
	int status;
	pid_t pid;

	OK(syscall(SYS_setuid, 0));
	/* as nobody, setuid(0) is refused: -EPERM */
	pid = fork();
	if (pid == 0) {
		if (syscall(SYS_setresuid, 65534, 65534, 65534))
			_exit(2);
		_exit(syscall(SYS_setuid, 0) == -1 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		want("setuid(0) as nobody refused", 1, -1);
}

/* the i386 ABI from this 64-bit image: pointers must fit in 32 bits; a3 (esi) is 0 */
static long int80(long nr, long b, long c, long d)
{
	long ret;

	asm volatile("int $0x80"
		     : "=a"(ret)
		     : "a"(nr), "b"(b), "c"(c), "d"(d), "S"(0L)
		     : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

static void compat_calls(void)
{
	char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (low == MAP_FAILED) {
		want("mmap MAP_32BIT", 1, -1);
		return;
	}
	strcpy(low, "/etc/hostname");
	strcpy(low + 64, "/nonexistent/x");
	close(OK(int80(I386_OPEN, (long)low, O_RDONLY, 0)));
	FAIL(int80(I386_OPEN, (long)low + 64, O_RDONLY, 0));
	munmap(low, 4096);
}

/*
 * Re-exec this image by a symlink named "reexec" through execveat(REEXEC_FD),
 * which a never rule keeps out of the log: the new image's recorded calls
 * carry its comm and exe (kernel audit's PROCTITLE stays the one it cached
 * at the task's first recorded call, the open of DIR before the exec).
 */
static void unrecorded_exec(const char *dir)
{
	char self[4096], link[4096];
	int status;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		want("readlink /proc/self/exe", 1, -1);
		return;
	}
	self[n] = 0;
	snprintf(link, sizeof(link), "%s/reexec", dir);
	if (symlink(self, link))
		want("symlink", 1, -1);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "reexec", AFTER_EXEC, NULL };
		int fd = open(dir, O_PATH | O_DIRECTORY);

		if (fd < 0 || dup2(fd, REEXEC_FD) < 0)
			_exit(2);
		syscall(SYS_execveat, REEXEC_FD, "reexec", argv, environ, 0);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		want("execveat reexec", 1, -1);
	unlink(link);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], AFTER_EXEC)) {
		close(OK(syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY)));
		return failures != 0;
	}
	if (argc != 2)
		return 2;
	execs(argv[1]);
	files(argv[1]);
	long_names(argv[1]);
	sockets(argv[1]);
	ids();
	compat_calls();
	unrecorded_exec(argv[1]);
	return failures != 0;
}
