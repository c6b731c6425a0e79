"""The deployment files: gunicorn.conf.py, the Procfile, deploy/."""

from __future__ import annotations

import os
import re
import runpy
import shlex
import socket
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.management import get_commands, load_command_class
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
ENV_EXAMPLE = ROOT / "deploy" / "catalogue.env.example"
UNITS = sorted((ROOT / "deploy").glob("*.service"))
GUNICORN_VARIABLES = (
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "BIND",
    "PORT",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_CONTROL_SOCKET",
    "LOG_LEVEL",
)


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """What gunicorn.conf.py sets under `env`, each value through gunicorn's validator."""
    for name in GUNICORN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config()
    settings = {}
    for name, value in public_names(runpy.run_path(str(GUNICORN_CONF))).items():
        if name in config.settings:  # gunicorn ignores the others
            config.set(name, value)  # raises on a value gunicorn would refuse
            settings[name] = config.settings[name].get()
    return settings


def public_names(namespace: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def cpus() -> int:
    return len(os.sched_getaffinity(0))


def test_gunicorn_config_names_only_gunicorn_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # gunicorn ignores unknown names in a config file: a misspelt setting
    # would silently keep its default.
    monkeypatch.setenv("GUNICORN_CONTROL_SOCKET", "/run/catalogue-web/gunicorn.ctl")
    names = public_names(runpy.run_path(str(GUNICORN_CONF)))
    assert set(names) - set(Config().settings) == set()


def test_gunicorn_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = gunicorn_settings(monkeypatch)
    assert {name: settings[name] for name in ("bind", "workers", "threads", "worker_class")} == {
        "bind": ["127.0.0.1:8000"],
        "workers": min(3 * cpus(), 12),
        "threads": 1,
        "worker_class": "gthread",
    }
    # One connection per thread, so that waiting requests go to a free worker.
    assert settings["worker_connections"] == settings["threads"]
    assert (settings["timeout"], settings["graceful_timeout"], settings["keepalive"]) == (60, 30, 0)
    assert (settings["max_requests"], settings["max_requests_jitter"]) == (50_000, 5_000)
    assert (settings["accesslog"], settings["errorlog"], settings["loglevel"]) == ("-", "-", "info")
    assert settings["worker_tmp_dir"] == ("/dev/shm" if Path("/dev/shm").is_dir() else None)
    assert settings["control_socket_disable"] is True
    assert settings["preload_app"] is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WEB_CONCURRENCY": "3"}, {"workers": 3}),
        (
            {"GUNICORN_THREADS": "8"},
            {"threads": 8, "worker_class": "gthread", "worker_connections": 8},
        ),
        ({"PORT": "5000"}, {"bind": ["0.0.0.0:5000"]}),
        (
            {"BIND": "127.0.0.1:9000, unix:/run/catalogue/web.sock", "PORT": "5000"},
            {"bind": ["127.0.0.1:9000", "unix:/run/catalogue/web.sock"]},
        ),
        (
            {"GUNICORN_TIMEOUT": "90", "GUNICORN_GRACEFUL_TIMEOUT": "10"},
            {"timeout": 90, "graceful_timeout": 10},
        ),
        ({"GUNICORN_KEEPALIVE": "75"}, {"keepalive": 75}),
        ({"GUNICORN_MAX_REQUESTS": "0"}, {"max_requests": 0, "max_requests_jitter": 0}),
        ({"GUNICORN_MAX_REQUESTS": "1000"}, {"max_requests": 1000, "max_requests_jitter": 100}),
        ({"LOG_LEVEL": "WARNING"}, {"loglevel": "warning"}),
        (
            {"GUNICORN_CONTROL_SOCKET": "/run/catalogue-web/gunicorn.ctl"},
            {"control_socket": "/run/catalogue-web/gunicorn.ctl", "control_socket_disable": False},
        ),
    ],
)
def test_gunicorn_config_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, Any]
) -> None:
    settings = gunicorn_settings(monkeypatch, **env)
    assert {name: settings[name] for name in expected} == expected


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_gunicorn_serves_with_the_config_and_logs_request_times(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in GUNICORN_VARIABLES}
    env.update(
        DEBUG="0",
        SECRET_KEY="test-" + "key-that-is-long-and-random-enough-for-the-check-" * 2,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "catalogue.wsgi"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/health/", headers={"X-Forwarded-Proto": "https"}
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    status, body = response.status, response.read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=40)
    assert (status, body) == (200, b"ok")
    # bench/load.py reads each page's time from this access log line.
    sys.path.insert(0, str(ROOT / "bench"))
    from load import ACCESS

    match = ACCESS.search(stdout)
    assert match, stdout
    assert (match["path"], match["status"]) == ("/health/", "200")
    assert "Booting worker" in stderr


# -- process definitions ----------------------------------------------------


@pytest.fixture
def production_tasks(settings: Any) -> None:
    """The database task backend that db_worker requires, not the tests' immediate one."""
    import catalogue.settings as production

    settings.TASKS = production.TASKS


def assert_command_exists(argv: list[str]) -> None:
    """A Procfile or ExecStart command line runs something this project has."""
    program = Path(argv[0]).name
    assert (Path(sys.executable).parent / program).exists(), f"{program} is not installed"
    if program == "gunicorn":
        config = argv[argv.index("-c") + 1]
        assert (ROOT / config).is_file()
        module = argv[-1]
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
        return
    assert program.startswith("python")
    assert argv[1] == "manage.py"
    name, arguments = argv[2], argv[3:]
    commands = get_commands()
    assert name in commands, f"manage.py has no command {name}"
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    parser.parse_args(arguments)  # exits on an option the command does not have


def procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = shlex.split(command)
    return processes


def test_procfile_runs_a_web_server_and_a_worker() -> None:
    processes = procfile()
    assert set(processes) == {"web", "worker"}
    assert processes["web"][0] == "gunicorn"
    assert processes["worker"][1:3] == ["manage.py", "db_worker"]


@pytest.mark.parametrize("process", ["web", "worker"])
@pytest.mark.usefixtures("production_tasks")
def test_procfile_commands_exist(process: str) -> None:
    assert_command_exists(procfile()[process])


def unit(path: Path) -> dict[str, str]:
    """The [Service] and [Unit] keys of a systemd unit (the last of repeated ones)."""
    keys = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            keys[key.strip()] = value.strip()
    return keys


def test_there_are_units_for_the_web_server_and_the_worker() -> None:
    assert [path.name for path in UNITS] == ["catalogue-web.service", "catalogue-worker.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
@pytest.mark.usefixtures("production_tasks")
def test_unit_runs_an_existing_command_unprivileged_with_restarts(path: Path) -> None:
    keys = unit(path)
    checkout = keys["WorkingDirectory"]
    argv = shlex.split(keys["ExecStart"])
    assert argv[0].startswith(checkout + "/.venv/bin/")
    assert_command_exists(argv)
    assert keys["User"] not in {"", "root"}
    assert keys["EnvironmentFile"].endswith("/catalogue.env")
    assert keys["Restart"] in {"on-failure", "always"}


def test_web_unit_waits_longer_than_gunicorns_graceful_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = int(unit(ROOT / "deploy" / "catalogue-web.service")["TimeoutStopSec"])
    assert stop > gunicorn_settings(monkeypatch)["graceful_timeout"]


def test_procfile_and_units_run_the_same_commands() -> None:
    in_units = sorted(
        [Path(argv[0]).name, *argv[1:]]
        for argv in (shlex.split(unit(path)["ExecStart"]) for path in UNITS)
    )
    assert in_units == sorted(procfile().values())


# -- the example environment --------------------------------------------------


def example_variables() -> dict[str, str]:
    variables = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(\S*)", line)
        if match:
            variables[match[1]] = match[2]
    return variables


def test_example_environment_names_every_setting() -> None:
    settings = (ROOT / "catalogue" / "settings.py").read_text()
    read_by_django = set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z0-9_]+)"', settings))
    assert read_by_django  # the pattern still finds them
    missing = (read_by_django | set(GUNICORN_VARIABLES)) - set(example_variables())
    assert not missing, f"not in deploy/catalogue.env.example: {sorted(missing)}"


def test_example_environment_is_plain_key_value_lines() -> None:
    # systemd's EnvironmentFile and a shell's `set -a; . FILE` (make
    # deploy-check) read KEY=value alike only without quotes or spaces.
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s'\"$`\\]*", line), line


def test_example_environment_is_for_production() -> None:
    variables = example_variables()
    assert variables["DEBUG"] == "0"
    assert variables["SECRET_KEY"] == "CHANGE-ME"  # a placeholder the deploy check refuses
    assert variables["ALLOWED_HOSTS"]
