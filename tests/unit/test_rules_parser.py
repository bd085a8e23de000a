"""Parser: every syntax form auditctl takes, read into the kernel's terms."""

from __future__ import annotations

import pytest

from tracer.rules import load_rules, parse_text
from tracer.rules.model import UNSET
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, syscall_number


def one(text):
    rs = parse_text(text + "\n", "t.rules")
    rules = rs.all_rules()
    assert len(rules) == 1
    return rules[0]


def cond(rule, name):
    return [c for c in rule.conds if c.name == name]


@pytest.mark.parametrize("spec", ["always,exit", "exit,always"])
def test_list_action_in_both_orders(spec):
    r = one(f"-a {spec} -F arch=b64 -S openat")
    assert (r.list, r.action) == ("exit", "always")


def test_syscall_names_numbers_lists_and_repeats():
    r = one("-a always,exit -F arch=b64 -S open,openat -S 59 -S 0x3c -S OPENAT2")
    assert r.syscalls == {2, 257, 59, 60, 437}


def test_syscall_all_and_default_all():
    assert one("-a always,exit -S all -F auid=0").syscalls is None
    assert one("-a always,exit -F auid=0").syscalls is None


def test_syscall_names_resolve_in_the_arch_given_before():
    r = one("-a always,exit -F arch=b32 -S open,socketcall")
    assert r.syscalls == {syscall_number("i386", "open"), syscall_number("i386", "socketcall")}
    assert cond(r, "arch")[0].value == AUDIT_ARCH_I386
    assert cond(one("-a always,exit -F arch=x86_64 -S open"), "arch")[0].value == AUDIT_ARCH_X86_64
    assert cond(one("-a always,exit -F arch=0x40000003 -S open"), "arch")[0].value == AUDIT_ARCH_I386


@pytest.mark.parametrize("op", ["=", "!=", "<", ">", "<=", ">=", "&", "&="])
def test_every_operator(op):
    r = one(f"-a always,exit -F arch=b64 -S openat -F a1{op}0x10")
    (c,) = cond(r, "a1")
    assert (c.op, c.value) == (op, 16)


@pytest.mark.parametrize(
    "value, expected",
    [("1000", 1000), ("0x3e8", 1000), ("01750", 1000), ("unset", UNSET), ("-1", UNSET), ("root", 0)],
)
def test_uid_values(value, expected):
    r = one(f"-a always,exit -F arch=b64 -S openat -F auid={value}")
    assert cond(r, "auid")[0].value == expected


def test_loginuid_is_auid_and_names_are_case_insensitive():
    r = one("-a always,exit -F arch=b64 -S openat -F LOGINUID>=1000 -F Uid=0")
    assert [c.name for c in r.conds] == ["arch", "auid", "uid"]


def test_other_values():
    r = one(
        "-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F success=0 -F gid=root "
        "-F perm=wa -F filetype=dir -F sessionid=unset -F a0=-1 -F exe=/usr/bin/id"
    )
    got = {c.name: (c.value, c.text) for c in r.conds}
    assert got["exit"] == (0xFFFFFFF3, None)
    assert got["success"] == (0, None)
    assert got["gid"] == (0, None)
    assert got["perm"] == (2 | 8, None)
    assert got["filetype"] == (0o040000, None)
    assert got["sessionid"] == (UNSET, None)
    assert got["a0"] == (0xFFFFFFFF, None)
    assert got["exe"] == (len("/usr/bin/id"), "/usr/bin/id")


def test_keys_from_k_and_field_key_join_in_order():
    r = one("-a always,exit -F arch=b64 -S openat -F key=a -k b")
    assert r.keys == ["a", "b"] and r.key == "a\x01b"


def test_field_comparison():
    (c,) = one("-a always,exit -F arch=b64 -S execve -C auid!=uid").conds[1:]
    assert (c.name, c.op, c.value, c.text) == ("field_compare", "!=", 10, "uid,auid")


def test_watch_of_file_and_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = one(f"-w {f} -p wa -k w")
    assert (r.list, r.action, r.syscalls, r.from_watch) == ("exit", "always", None, True)
    assert [(c.name, c.value if c.name == "perm" else c.text) for c in r.conds] == [("path", str(f)), ("perm", 10)]
    d = one(f"-w {tmp_path}/ -k d")  # trailing slash trimmed; all permissions by default
    assert [(c.name, c.value if c.name == "perm" else c.text) for c in d.conds] == [("dir", str(tmp_path)), ("perm", 15)]


def test_delete_forms_remove_earlier_rules(tmp_path):
    rs = parse_text(
        f"-w {tmp_path} -p wa -k w\n-a always,exit -F arch=b64 -S openat\n"
        f"-W {tmp_path} -p wa -k w\n-d always,exit -F arch=b64 -S openat\n-d always,exit -F arch=b64 -S unlink\n"
    )
    assert rs.exit_rules == []
    assert any("no earlier rule matches this delete" in w for w in rs.warnings)


def test_control_lines_are_parsed_and_never_fatal():
    rs = parse_text(
        "-D\n-b 8192\n-f 1\n-e 2\n-r 100\n--backlog_wait_time 60000\n--loginuid-immutable\n-c\n-i\n"
        "-a always,exit -F arch=b64 -S openat\n--backlog_wait_time=1\n"
    )
    assert len(rs.exit_rules) == 1
    texts = [i.text for i in rs.ignored]
    assert texts == ["-D", "-b 8192", "-f 1", "-e 2", "-r 100", "--backlog_wait_time 60000",
                     "--loginuid-immutable", "-c", "-i", "--backlog_wait_time=1"]
    assert all(i.reason for i in rs.ignored)


def test_D_clears_the_rules_before_it():
    rs = parse_text("-a always,exit -F arch=b64 -S openat\n-D\n-a always,exit -F arch=b64 -S unlink\n")
    assert [r.syscalls for r in rs.exit_rules] == [frozenset({87})]
    assert any("-D deletes the 1 rules given before it" in w for w in rs.warnings)


def test_other_lists_are_parsed_and_reported_not_applicable():
    rs = parse_text("-a always,user -F uid=0\n-a never,exclude -F msgtype=CWD\n-a never,task\n"
                    "-a never,filesystem -F fstype=debugfs\n-a always,io_uring -S openat\n")
    assert rs.exit_rules == []
    assert len(rs.all_rules()) == 5
    assert sum("not evaluated by bpfaudit" in i.reason for i in rs.ignored) == 5


def test_comments_blank_lines_and_escaped_spaces():
    rs = parse_text("# comment\n\n   \n-a always,exit -F arch=b64 -S openat -F exe=/opt/my\\ app -k k\n")
    assert rs.exit_rules[0].conds[-1].text == "/opt/my app"


def test_attached_option_values_and_getopt_style():
    r = one("-aalways,exit -Farch=b64 -Sopenat -kk")
    assert r.syscalls == {257} and r.keys == ["k"]


def test_files_in_order_then_command_line(tmp_path):
    a, b = tmp_path / "a.rules", tmp_path / "b.rules"
    a.write_text("-a always,exit -F arch=b64 -S openat -k a\n")
    b.write_text("-a always,exit -F arch=b64 -S unlink -k b\n")
    rs = load_rules([str(b), str(a)], ["-A always,exit -F arch=b64 -S execve -k c"])
    assert [r.keys[0] for r in rs.exit_rules] == ["c", "b", "a"]
    assert str(rs.exit_rules[1].source) == f"{b}:1"
    assert str(rs.exit_rules[0].source) == "<command line>"


def test_gz_rules_file(tmp_path):
    import gzip

    p = tmp_path / "x.rules.gz"
    with gzip.open(p, "wt") as f:
        f.write("-a always,exit -F arch=b64 -S openat\n")
    assert len(load_rules([str(p)]).exit_rules) == 1


def test_warnings():
    rs = parse_text("-a always,exit -S openat -F exit=EACCES\n")
    assert any("-S without -F arch" in w and "both ABIs" in w for w in rs.warnings)
    assert any("exit=EACCES compares with +13" in w for w in rs.warnings)
    assert parse_text("-a always,exit -F arch=b64 -S openat\n").warnings == []


def test_D_with_a_key_deletes_only_those_rules():
    rs = parse_text("-a always,exit -F arch=b64 -S openat -k files\n-a always,exit -F arch=b64 -S unlink -k del\n"
                    "-D -k file\n")
    assert [r.keys for r in rs.exit_rules] == [["del"]]
    assert any("with key file" in w for w in rs.warnings)
