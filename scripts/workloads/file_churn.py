"""A file-churn workload for `bpfaudit compare` examples: N rounds of
create, chmod, chown, rename and unlink in DIR (10,000 audited calls for N=2000)."""

import os
import sys


def main() -> None:
    directory, rounds = sys.argv[1], int(sys.argv[2])
    os.makedirs(directory, exist_ok=True)
    for i in range(rounds):
        path = os.path.join(directory, f"f{i}")
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o644)
        os.chown(path, 0, 0)
        os.rename(path, path + ".old")
        os.unlink(path + ".old")


if __name__ == "__main__":
    main()
