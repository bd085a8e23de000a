"""What the BPF programs need to know per syscall beyond its number: which
arguments are pathnames (copied into PATH records) and which calls may
change the caller's credentials (their rules are only judged at exit)."""

from __future__ import annotations

from typing import Dict, Tuple

# argument indexes of pathname arguments, at most two (BA_MAX_PATHS)
PATH_ARGS: Dict[str, Tuple[int, ...]] = {
    "open": (0,), "openat": (1,), "openat2": (1,), "creat": (0,),
    "unlink": (0,), "unlinkat": (1,), "rmdir": (0,), "mkdir": (0,), "mkdirat": (1,),
    "rename": (0, 1), "renameat": (1, 3), "renameat2": (1, 3),
    "link": (0, 1), "linkat": (1, 3), "symlink": (0, 1), "symlinkat": (0, 2),
    "readlink": (0,), "readlinkat": (1,),
    "chmod": (0,), "fchmodat": (1,), "fchmodat2": (1,),
    "chown": (0,), "lchown": (0,), "fchownat": (1,), "chown32": (0,), "lchown32": (0,),
    "truncate": (0,), "truncate64": (0,),
    "execve": (0,), "execveat": (1,),
    "stat": (0,), "lstat": (0,), "stat64": (0,), "lstat64": (0,), "newfstatat": (1,),
    "fstatat64": (1,), "statx": (1,), "statfs": (0,), "statfs64": (0,),
    "access": (0,), "faccessat": (1,), "faccessat2": (1,),
    "utime": (0,), "utimes": (0,), "utimensat": (1,), "futimesat": (1,),
    "mknod": (0,), "mknodat": (1,), "chdir": (0,), "chroot": (0,),
    "mount": (0, 1), "umount": (0,), "umount2": (0,), "pivot_root": (0, 1),
    "swapon": (0,), "swapoff": (0,), "acct": (0,), "uselib": (0,),
    "setxattr": (0,), "lsetxattr": (0,), "getxattr": (0,), "lgetxattr": (0,),
    "listxattr": (0,), "llistxattr": (0,), "removexattr": (0,), "lremovexattr": (0,),
    "name_to_handle_at": (1,), "inotify_add_watch": (1,), "fanotify_mark": (4,),
    "open_tree": (1,), "move_mount": (1, 3), "mount_setattr": (1,), "fspick": (1,),
    "quotactl": (1,),
}

# where kernel audit's SOCKADDR record comes from: (address argument, length argument, mode).
# "in": the address passed in, its length the argument's value (move_addr_to_kernel);
# "out": the address given back on success, the length argument points to it (move_addr_to_user)
SOCKADDR_ARGS: Dict[str, Tuple[int, int, str]] = {
    "connect": (1, 2, "in"), "bind": (1, 2, "in"), "sendto": (4, 5, "in"),
    "accept": (1, 2, "out"), "accept4": (1, 2, "out"), "getsockname": (1, 2, "out"),
    "getpeername": (1, 2, "out"), "recvfrom": (4, 5, "out"),
}

# where sys_exit finds the object a call reached (bpf/objects.h: kernel audit's PATH attributes):
# "fd" the descriptor returned, with the argument index of the open flags ("creat": O_CREAT
# implied, "how": openat2's struct open_how); "pwd"/"root" the directory made the task's own
OBJECTS: Dict[str, Tuple[str, object]] = {
    "open": ("fd", 1), "openat": ("fd", 2), "creat": ("fd", "creat"), "openat2": ("fd", "how"),
    "chdir": ("pwd", None), "chroot": ("root", None),
}

# the calls whose name and arguments come from the exec itself (bpf/exec.h)
EXECS = frozenset({"execve", "execveat"})

# calls that never reach sys_exit: nothing to stash for them (no record; README, known limits)
NEVER_RETURN = frozenset({"exit", "exit_group"})

# calls after which uid/gid/auid may differ from what they were at entry
CHANGES_CREDS = frozenset({
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
    "setuid32", "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32",
    "setfsuid32", "setfsgid32", "execve", "execveat",
})
