"""The private auditd.conf written for a run: distro defaults, our log and plugins, tuned variant."""

from __future__ import annotations

from tracer.kaudit.auditd import TUNED, private_conf, read_conf, render_conf

DISTRO = {"log_file": "/var/log/audit/audit.log", "log_format": "ENRICHED", "flush": "INCREMENTAL_ASYNC",
          "freq": "50", "plugin_dir": "/etc/audit/plugins.d", "max_log_file_action": "ROTATE",
          "tcp_listen_port": "60", "q_depth": "2000"}


def test_private_conf_moves_log_and_plugins_keeps_defaults():
    conf = private_conf("/tmp/x", "/tmp/x/plugins.d", tuned=False, base=DISTRO)
    assert conf["log_file"] == "/tmp/x/audit.log" and conf["plugin_dir"] == "/tmp/x/plugins.d"
    assert conf["log_format"] == "ENRICHED" and conf["flush"] == "INCREMENTAL_ASYNC" and conf["q_depth"] == "2000"
    assert conf["max_log_file_action"] == "IGNORE" and "tcp_listen_port" not in conf


def test_tuned_conf():
    conf = private_conf("/tmp/x", "/tmp/p", tuned=True, base=DISTRO)
    assert {k: conf[k] for k in TUNED} == {"flush": "NONE", "log_format": "RAW"}
    assert conf["freq"] == "50"


def test_conf_round_trip(tmp_path):
    path = tmp_path / "auditd.conf"
    path.write_text("# comment\nlog_file = /a/b.log\n\nflush=NONE # trailing\nname_format = NONE\n")
    conf = read_conf(str(path))
    assert conf == {"log_file": "/a/b.log", "flush": "NONE", "name_format": "NONE"}
    path.write_text(render_conf(conf))
    assert read_conf(str(path)) == conf
