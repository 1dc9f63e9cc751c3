"""``make demo``: the local Okta-compatible IdP and a whole Airflow (api-server, scheduler, triggerer, dag-processor).

Ctrl-C, SIGTERM and SIGHUP all stop every process the demo started (see
:mod:`okta_devstack.processes`); a port already in use stops the demo before anything starts, with
one line naming who holds it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from okta_devstack import demo_files
from okta_devstack.airflow import REPO, AirflowServer
from okta_devstack.ports import describe, holders, port_in_use, suggest_free_port
from okta_devstack.processes import STOP_SIGNALS, Children

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import FrameType

    from okta_devstack.processes import Child

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"  # logout ends the Okta session; bots get tokens
START_TIMEOUT = 240  # seconds for every server to answer on a busy 2-core machine
# Airflow's components besides the api-server, with the key of each in /api/v2/monitor/health.
# --skip-serve-logs: task logs are read from the shared local folder, so no log-server ports to collide.
COMPONENTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("scheduler", ("scheduler", "--skip-serve-logs"), "scheduler"),
    ("triggerer", ("triggerer", "--skip-serve-logs"), "triggerer"),
    ("dag-processor", ("dag-processor",), "dag_processor"),
)
# On SIGTERM Airflow's triggerer waits a fixed 10 s for its trigger runner, even with no trigger
# running; a second signal makes it stop the runner at once (the demo's triggers are disposable).
HURRY_AFTER = {"triggerer": 1.0}
DEMO_AIRFLOW_ENV = {
    # LocalExecutor forks [core] parallelism workers up front (32 by default): two are plenty here.
    "AIRFLOW__CORE__PARALLELISM": "2",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
}


@dataclass(frozen=True)
class PortSetting:
    """A port the demo listens on, and the variable that moves it."""

    variable: str
    default: int
    what: str


PORTS = (
    PortSetting("DEMO_AIRFLOW_PORT", 8080, "Airflow api-server"),
    PortSetting("DEMO_IDP_PORT", 9000, "local IdP"),
)


class DemoError(Exception):
    """Stops the demo with one message for the person running it."""


class Stopped(Exception):
    """A stop signal (SIGTERM, SIGHUP) arrived: stop everything, as Ctrl-C does."""


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def read_ports(environ: Mapping[str, str]) -> dict[str, int]:
    """Return each DEMO_*_PORT (default if unset); raise DemoError on a bad or repeated value."""
    ports: dict[str, int] = {}
    for setting in PORTS:
        raw = environ.get(setting.variable, "").strip() or str(setting.default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise DemoError(f"{setting.variable}={raw!r} is not a TCP port (1-65535); unset it or give a number.")
        ports[setting.variable] = int(raw)
    if len(set(ports.values())) < len(ports):
        raise DemoError(f"the demo needs {len(ports)} different ports; got {ports}. Change one of them.")
    return ports


def port_problem(setting: PortSetting, port: int, taken: set[int]) -> str | None:
    """Return the one-line message for a port someone else listens on, or None if it is free."""
    if not port_in_use(port):
        return None
    pids = holders(port)
    free = suggest_free_port(port, avoid=taken)
    change = f"{setting.variable}={free} make demo" if free else f"{setting.variable}=<another port> make demo"
    if pids:
        return (
            f"Port {port} ({setting.what}) is in use by {describe(pids)}: stop it "
            f"(kill {' '.join(str(p) for p in pids[:3])}) or start the demo on another port: {change}"
        )
    return (
        f"Port {port} ({setting.what}) is in use (by a process this user can't see; "
        f"`sudo ss -ltnp 'sport = :{port}'` names it): free it or start the demo on another port: {change}"
    )


def demo_dir() -> Path:
    """Return where the demo keeps its files (DEMO_DIR, default .demo in the repository)."""
    return Path(os.environ.get("DEMO_DIR") or REPO / ".demo").resolve()


def main() -> int:
    """Check the ports, start every server, print how to use them; stop them all on Ctrl-C, SIGTERM or SIGHUP."""
    for signum in STOP_SIGNALS[1:]:
        signal.signal(signum, _raise_stopped)
    children = Children()
    try:
        ports = read_ports(os.environ)
        for setting in PORTS:
            problem = port_problem(setting, ports[setting.variable], set(ports.values()))
            if problem:
                raise DemoError(problem)
        return _run(ports, children)
    except DemoError as e:
        print(f"make demo: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping (Ctrl-C)...", flush=True)
        return 0
    except Stopped as e:
        print(f"\nStopping ({e})...", flush=True)
        return 0
    finally:
        for signum in STOP_SIGNALS:  # a second signal must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        if children.started:
            forced = children.stop_all()
            if forced:
                print(f"Killed (did not stop on SIGTERM): {', '.join(forced)}", file=sys.stderr, flush=True)
            print("Stopped every server the demo started.", flush=True)


def _run(ports: dict[str, int], children: Children) -> int:
    airflow_port, idp_port = ports["DEMO_AIRFLOW_PORT"], ports["DEMO_IDP_PORT"]
    home = demo_dir()
    home.mkdir(parents=True, exist_ok=True)
    mapping = demo_files.write_mapping(home)
    idp_config, data = demo_files.write_idp_config(home, airflow_port)
    client = next(c for c in data["clients"] if c["client_id"] == demo_files.CLIENT_ID)
    issuer = f"http://127.0.0.1:{idp_port}/oauth2/default"
    airflow = AirflowServer(
        home / "airflow",
        port=airflow_port,
        auth_manager=AUTH_MANAGER,
        airflow_env=DEMO_AIRFLOW_ENV,
        okta_env={
            "OKTA_ISSUER": issuer,
            "OKTA_CLIENT_ID": demo_files.CLIENT_ID,
            "OKTA_CLIENT_SECRET": client["client_secret"],
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_EVENT_HOOK_SECRET": demo_files.HOOK_SECRET,
            "OKTA_UNIVERSAL_LOGOUT_ENDPOINT": demo_files.universal_logout_url(airflow_port),
            "OKTA_API_TOKEN": data["server"]["api_token"],  # Groups API fallback, sync-users
            "OKTA_CLI_CLIENT_ID": demo_files.CLI_CLIENT_ID,  # people on the REST API: okta-airflow login
            # AI agents acting for a person: the ID-JAG's audience (the agents are listed under agents:).
            "OKTA_AGENT_AUDIENCE": demo_files.airflow_resource(f"http://127.0.0.1:{airflow_port}"),
        },
    )
    dags = demo_files.install_dags(airflow.home / "dags")
    env_file = home / "okta.env"
    demo_files.write_env_file(env_file, airflow.settings_env())
    bot = demo_files.bot_client(data)
    bot_script = home / "bot.sh"
    if bot is not None:
        demo_files.write_bot_script(bot_script, issuer=issuer, airflow_url=airflow.base_url, client=bot)

    idp_argv = [sys.executable, "-m", "okta_local_idp", "--config", str(idp_config), "--host", "127.0.0.1"]
    children.spawn("local IdP", [*idp_argv, "--port", str(idp_port)], cwd=REPO, log_path=home / "idp.log")
    started = time.monotonic()
    _wait_until(children, f"{issuer}/.well-known/openid-configuration", "the local IdP")
    print("Preparing Airflow (database migration)...", flush=True)
    try:
        airflow.prepare()
    except RuntimeError as e:
        raise DemoError(str(e)) from e
    print("Starting airflow api-server, scheduler, triggerer and dag-processor...", flush=True)
    env = airflow.env()
    api_argv = airflow.argv("api-server", "--host", airflow.host, "--port", str(airflow_port), "--workers", "1")
    children.spawn("api-server", api_argv, env=env, cwd=airflow.home, log_path=airflow.log_path)
    for name, args, _ in COMPONENTS:
        log_path = airflow.home / f"{name}.log"
        hurry = HURRY_AFTER.get(name)
        children.spawn(name, airflow.argv(*args), env=env, cwd=airflow.home, log_path=log_path, hurry_after=hurry)
    _wait_until(children, f"{airflow.base_url}/api/v2/monitor/health", "airflow api-server")
    _verify_event_hook(f"http://127.0.0.1:{idp_port}", data["server"]["api_token"])
    _wait_for_components(children, airflow.base_url)
    took = time.monotonic() - started
    _banner(
        Banner(
            url=airflow.base_url,
            issuer=issuer,
            data=data,
            mapping=mapping,
            idp_config=idp_config,
            env_file=env_file,
            bot_script=bot_script if bot is not None else None,
            dags=dags,
            logs=[c.log_path for c in children.started if c.log_path is not None],
            seconds=took,
        )
    )
    while (stopped := children.exited()) is None:
        time.sleep(1)
    raise DemoError(_exit_message(stopped, "stopped") + "; stopping the others.")


def _exit_message(child: Child, verb: str) -> str:
    where = f"; see {child.log_path}" if child.log_path is not None else ""
    return f"the {child.name} {verb} (exit code {child.proc.returncode}){where}"


def _wait_until(children: Children, url: str, what: str, timeout: float = START_TIMEOUT) -> None:
    """Wait for ``url`` to answer 200; raise DemoError if a child exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (stopped := children.exited()) is not None:
            raise DemoError(_exit_message(stopped, "exited while starting") + _log_tail(stopped))
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise DemoError(f"{what} did not answer {url} within {timeout:.0f}s")


def _wait_for_components(children: Children, base_url: str, timeout: float = START_TIMEOUT) -> None:
    """Wait until the scheduler, triggerer and dag-processor report healthy (the Home page's health panel)."""
    deadline = time.monotonic() + timeout
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if (stopped := children.exited()) is not None:
            raise DemoError(_exit_message(stopped, "exited while starting") + _log_tail(stopped))
        try:
            health = requests.get(f"{base_url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            health = {}
        if all((health.get(key) or {}).get("status") == "healthy" for _, _, key in COMPONENTS):
            return
        time.sleep(0.5)
    late = {name for name, _, key in COMPONENTS if (health.get(key) or {}).get("status") != "healthy"}
    logs = ", ".join(str(c.log_path) for c in children.started if c.name in late)
    raise DemoError(f"{', '.join(sorted(late))} did not report healthy within {timeout:.0f}s; see {logs}")


def _log_tail(child: Child, lines: int = 15) -> str:
    if child.log_path is None:
        return ""
    try:
        tail = child.log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n" + "\n".join(tail)


def _verify_event_hook(idp_base: str, api_token: str) -> None:
    """Verify the IdP's event hook against Airflow (Okta delivers nothing to an unverified hook)."""
    headers = {"Authorization": f"SSWS {api_token}"}
    for hook in requests.get(f"{idp_base}/api/v1/eventHooks", headers=headers, timeout=10).json():
        requests.post(f"{idp_base}/api/v1/eventHooks/{hook['id']}/lifecycle/verify", headers=headers, timeout=10)


@dataclass(frozen=True)
class Banner:
    """What the banner shows."""

    url: str
    issuer: str
    data: Mapping[str, Any]
    mapping: Path
    idp_config: Path
    env_file: Path
    bot_script: Path | None
    dags: list[str]
    logs: list[Path]
    seconds: float


def _shown(path: Path) -> str:
    """Return ``path`` relative to the working directory when it is below it (shorter to copy)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner_lines(b: Banner) -> list[str]:
    """Return the banner: where things are, who can sign in, what to try."""
    okta_airflow = _shown(Path(sys.executable).with_name("okta-airflow"))
    org = b.issuer.rsplit("/oauth2/", 1)[0]
    api_token = b.data["server"]["api_token"]
    lines = [
        "=" * 78,
        f"Airflow:   {b.url}/   (sign in with Okta via {b.url}/auth/login/)",
        f"Local IdP: {b.issuer}",
        f"Running:   api-server, scheduler, triggerer, dag-processor + local IdP (ready in {b.seconds:.0f}s)",
        "Sample users (login / password / Okta groups):",
    ]
    for user in demo_files.sample_users(b.data):
        note = f"  <- {user.note}" if user.note else ""
        lines.append(f"  {user.login:<28} {user.password:<18} {', '.join(user.groups)}{note}")
    lines += [
        f"Example DAGs: {', '.join(b.dags)} (paused; unpause or trigger them in the UI).",
        "  erin.finance has role team-finance: she sees finance_daily only (DAG-level access, roles: section).",
        f"Role mapping (edit it; the next login uses it): {_shown(b.mapping)}",
        f"IdP users and groups (edit them too):          {_shown(b.idp_config)}",
    ]
    if b.bot_script is not None:
        lines.append(
            f"Bot token path (Okta client credentials -> Airflow token -> REST API): bash {_shown(b.bot_script)}"
        )
    lines += [
        "You on the REST API (device sign-in; approve it in the browser as alice or bob):",
        f"  {okta_airflow} login --issuer {b.issuer} --client-id {demo_files.CLI_CLIENT_ID} --airflow-url {b.url} --print",
        "An AI assistant acting for erin (Okta ID-JAG -> delegated token -> API; Audit Log rows name erin + it):",
        f"  {_shown(Path(sys.executable))} -m okta_devstack.agent_demo --airflow-url {b.url} --org-url {org}",
        "Leavers: deactivate bob in the IdP and Airflow deactivates him at once (event hook):",
        f"  curl -X POST -H 'Authorization: SSWS {api_token}' {org}/api/v1/users/00uviewer00000000002/lifecycle/deactivate",
        "Check the set-up with the demo's environment:",
        f"  (set -a; . {_shown(b.env_file)}; set +a; {okta_airflow} doctor)",
        f"Audit trail: {b.url}/api/v2/eventLogs (or Browse -> Audit Log in the UI)",
        f"Logs: {', '.join(_shown(p) for p in b.logs)}",
        f"Stop: Ctrl-C here, or kill {os.getpid()} (SIGTERM or SIGHUP): every server stops with it.",
        "=" * 78,
    ]
    return lines


def _banner(b: Banner) -> None:
    print("\n" + "\n".join(banner_lines(b)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
