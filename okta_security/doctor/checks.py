"""``okta-airflow doctor``: check what a first Okta login depends on, each ✓/✗ with a fix.

Run it where the webserver runs, with the same environment. Every check is a function of a
:class:`DoctorContext` (the environment, facts about Airflow, an HTTP session and a clock, all
injectable) returning a :class:`CheckResult`; nothing here imports Flask or Airflow. The Okta
checks live in :mod:`okta_security.doctor.okta` and :mod:`okta_security.doctor.probes`, the facts
about Airflow come from :mod:`okta_security.adapter.airflow_facts`.

Statuses: ``ok`` (✓), ``fail`` (✗, exit code 1), ``warn`` (!, can't be confirmed from here or
risky but workable), ``skip`` (-, a check it depends on failed).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from okta_security.doctor import okta as doctor_okta
from okta_security.doctor import probes as doctor_probes
from okta_security.doctor.report import Check, CheckResult, DoctorContext, Status, Verdicts
from okta_security.errors import ConfigError, MappingError
from okta_security.lifecycle.universal_logout import ENDPOINT_PATH
from okta_security.mapping.roles import BUILTIN_ROLES
from okta_security.mapping.store import load_mapping
from okta_security.settings.loader import describe_settings, env_value, given_settings, load_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

SYMBOLS = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIP: "-"}


# -- settings and mapping -----------------------------------------------------------------------


def check_settings(ctx: DoctorContext) -> CheckResult:
    """Every setting present and well-formed, with where it came from; secrets shown only as "set"."""
    check = Verdicts("settings", "Settings (OKTA_* / [okta])")
    shown = describe_settings(ctx.environ, ctx.airflow_options)
    problems = list(ctx.airflow_options_problems)
    try:
        ctx.settings = load_settings(ctx.environ, ctx.airflow_options)
    except ConfigError as e:
        problems.extend(e.problems)
    if problems:
        return check.fail(
            f"{len(problems)} problem(s):\n" + "\n".join(f"- {p}" for p in problems),
            "fix each problem above (set the variable in the webserver's environment, or <NAME>_FILE, "
            "or [okta] <name> in Airflow's configuration — in one place only)",
            settings=shown,
            problems=problems,
        )
    given = given_settings(ctx.environ, ctx.airflow_options)
    lines = [f"{name} = {shown[name]}" for name in given]
    if len(given) < len(shown):
        lines.append(f"({len(shown) - len(given)} other setting(s) at their defaults)")
    return check.ok("every required setting is present and well-formed\n" + "\n".join(lines), settings=shown)


def mapping_path(ctx: DoctorContext) -> str:
    """Return the mapping file the webserver will read."""
    if ctx.settings is not None:
        return ctx.settings.role_mapping_file
    return env_value("OKTA_ROLE_MAPPING_FILE", ctx.environ, ctx.airflow_options)


def check_mapping(ctx: DoctorContext) -> CheckResult:
    """The mapping file parses exactly as the webserver parses it."""
    check = Verdicts("mapping", "Role mapping file")
    path = mapping_path(ctx)
    try:
        ctx.mapping = load_mapping(path)
    except MappingError as e:
        fix = (
            f"fix {path} as each problem says (example: config/role_mapping.yaml); "
            "a running webserver keeps its last good mapping until the file is valid again"
        )
        return _problems(check, e, fix, path=path)
    roles = sorted(ctx.mapping.role_names())
    default = ctx.mapping.default_role
    detail = (
        f"{path}: valid, {len(ctx.mapping.rules)} rule(s); roles used: {', '.join(roles) or '(none)'}; "
        f"default_role: {default or 'null (unmapped users are refused)'}"
    )
    data: dict[str, Any] = {"path": path, "rules": len(ctx.mapping.rules), "roles": roles, "default_role": default}
    rules = ctx.mapping.step_up
    if rules is not None:
        detail += f"; step-up roles: {', '.join(sorted(rules.roles))} (a second factor within {rules.max_age_seconds // 60} min)"
        data["step_up_roles"] = sorted(rules.roles)
        problem = ctx.airflow.step_up_problem if ctx.airflow is not None else None
        if problem:
            fix = "set AIRFLOW__CORE__AUTH_MANAGER=okta_security.auth_manager.OktaFabAuthManager, or remove 'step_up:'"
            return check.fail(f"{detail}; {problem}", fix, **data)
    if not roles:
        return check.warn(detail, "map at least one Okta group to a role, or nobody can sign in", **data)
    return check.ok(detail, **data)


def _problems(check: Verdicts, error: MappingError, fix: str, **data: Any) -> CheckResult:
    """Fail ``check`` with the mapping's problems, one a line."""
    return check.fail("\n".join(f"- {p}" for p in error.problems), fix, **data, problems=error.problems)


def check_roles(ctx: DoctorContext) -> CheckResult:
    """Every role the mapping names exists in Airflow's database (built-in roles count)."""
    check = Verdicts("roles", "Mapped roles exist in Airflow")
    if ctx.mapping is None:
        return check.skip("the mapping file is not valid")
    if ctx.airflow is None:
        return check.skip("Airflow is not importable here")
    if ctx.airflow.roles is None:
        return check.fail(
            ctx.airflow.roles_error,
            "run the doctor with the webserver's [database] sql_alchemy_conn and a migrated database "
            "(airflow db migrate)",
        )
    known = ctx.airflow.roles | BUILTIN_ROLES | ctx.mapping.declared_roles()  # roles-as-code: created at start
    try:
        load_mapping(mapping_path(ctx), known_roles=sorted(known))
    except MappingError as e:
        fix = "create the missing roles (airflow roles create <name>) or fix the names in the mapping file"
        return _problems(check, e, fix, known_roles=sorted(known))
    used = sorted(ctx.mapping.role_names())
    pending = sorted(set(used) & BUILTIN_ROLES - ctx.airflow.roles)
    detail = f"all {len(used)} mapped role(s) exist: {', '.join(used)}"
    if pending:
        detail += f" ({', '.join(pending)} will be created by Airflow at its first start)"
    return check.ok(detail, known_roles=sorted(known))


# -- Airflow ------------------------------------------------------------------------------------


def check_webserver_config(ctx: DoctorContext) -> CheckResult:
    """webserver_config.py is where Airflow will look, and it installs okta_security."""
    check = Verdicts("webserver_config", "webserver_config.py")
    facts = ctx.airflow
    if facts is None:
        return check.fail(
            f"Airflow is not importable here ({ctx.airflow_error})",
            "run okta-airflow doctor in the webserver's Python environment, with its environment variables",
        )
    wc = facts.webserver_config
    section, key = facts.layout.config_file
    where = f"[{section}] {key} = {wc.path}"
    env_var = f"AIRFLOW__{section.upper()}__{key.upper()}"
    data = {"path": wc.path, "setting": f"[{section}] {key}"}
    if not wc.exists:
        return check.fail(
            f"{where}: no such file — Airflow silently ignores a missing file and logs in with passwords",
            f"copy okta_security's webserver_config.py to {wc.path}, or point {env_var} at your copy",
            **data,
        )
    if wc.loaded and wc.ours:
        return check.ok(f"{where}: {wc.detail}", **data)
    if not wc.loaded:
        fix = "fix the error above: the webserver hits the same one at start"
    else:
        fix = (
            "use okta_security's webserver_config.py (it sets SECURITY_MANAGER_CLASS = OktaSecurityManager), "
            "or set SECURITY_MANAGER_CLASS to a subclass of OktaSecurityManager"
        )
    return check.fail(f"{where}: {wc.detail}", fix, **data)


def check_auth_manager(ctx: DoctorContext) -> CheckResult:
    """``[core] auth_manager`` is the FAB auth manager (or a subclass), else webserver_config.py is unused."""
    check = Verdicts("auth_manager", "[core] auth_manager")
    facts = ctx.airflow
    if facts is None:
        return check.skip("Airflow is not importable here")
    value = facts.auth_manager or "(not set)"
    if facts.auth_manager_is_fab:
        return check.ok(f"{value} ({facts.auth_manager_detail})")
    return check.fail(
        f"{value}: {facts.auth_manager_detail} — webserver_config.py is only read by the FAB auth manager",
        f"set AIRFLOW__CORE__AUTH_MANAGER={facts.layout.recommended_auth_manager} (or [core] auth_manager in "
        "airflow.cfg)",
        value=facts.auth_manager,
    )


def check_universal_logout(ctx: DoctorContext) -> CheckResult:
    """OKTA_UNIVERSAL_LOGOUT_ENDPOINT names the endpoint Airflow serves, over https, on the auth manager that honours it."""
    check = Verdicts("universal_logout", "Universal Logout endpoint")
    if ctx.settings is None:
        return check.skip("the settings are unusable")
    endpoint = ctx.settings.universal_logout_endpoint
    if not endpoint:
        return check.ok(
            "off (OKTA_UNIVERSAL_LOGOUT_ENDPOINT is empty): Okta's Universal Logout requests are answered 404"
        )
    facts = ctx.airflow
    if facts is None:
        return check.skip("Airflow is not importable here")
    base = urlsplit(facts.base_url)
    expected = f"{base.path.rstrip('/')}{facts.layout.fab_prefix}{ENDPOINT_PATH}"
    given = urlsplit(endpoint)
    data = {"endpoint": endpoint, "expected_path": expected}
    if given.path != expected or given.query or given.fragment:
        return check.fail(
            f"OKTA_UNIVERSAL_LOGOUT_ENDPOINT = {endpoint}: Airflow serves the endpoint at the path {expected} "
            f"(under {facts.layout.base_url[0]}'s base_url {facts.base_url or '(not set)'}), with no query",
            f"set OKTA_UNIVERSAL_LOGOUT_ENDPOINT to the public https URL of {expected}, and enter the same URL as the "
            "Okta app's global token revocation endpoint (the signed JWT's aud must equal it)",
            **data,
        )
    if given.scheme != "https" and not _loopback(given.hostname or ""):
        return check.fail(
            f"{endpoint} is not https: the draft requires it, and Okta calls only https endpoints",
            "serve Airflow over https (a TLS proxy in front) and use that URL",
            **data,
        )
    if facts.layout.major >= 3 and not facts.auth_manager.endswith("OktaFabAuthManager"):
        return check.warn(
            f"{endpoint}: Okta's request ends the person's sessions, but only okta_security's auth manager also "
            f"refuses their Airflow API tokens; [core] auth_manager is {facts.auth_manager or '(not set)'}",
            f"set AIRFLOW__CORE__AUTH_MANAGER={facts.layout.recommended_auth_manager}",
            **data,
        )
    where = "" if given.netloc == base.netloc else f" (Airflow's own base_url is {facts.base_url}: a proxy's URL?)"
    return check.ok(
        f"{endpoint}: Okta's signed requests must name it as aud, signed by the org {ctx.settings.groups_api_org_url}"
        + where,
        **data,
    )


def check_agents(ctx: DoctorContext) -> CheckResult:
    """AI agents (``agents:``): the auth manager that issues and limits delegated tokens, and what ID-JAGs need."""
    check = Verdicts("agents", "AI agents acting for people")
    settings, mapping, facts = ctx.settings, ctx.mapping, ctx.airflow
    if settings is None or mapping is None:
        return check.skip("the settings or the mapping are unusable")
    listed = sorted(rule.client_id for rule in mapping.agents)
    audience = settings.agent_audience
    data = {"agents": listed, "audience": audience}
    if not listed:
        return check.ok("off: the mapping lists no agent under 'agents:', so no agent may act for a person", **data)
    if facts is None:
        return check.skip("Airflow is not importable here")
    if facts.layout.major < 3:
        return check.warn(
            f"the mapping lists agents ({', '.join(listed)[:200]}), but Airflow {facts.layout.major} has no token "
            "endpoint: delegated tokens are issued by Airflow 3's POST /auth/token only",
            "upgrade to Airflow 3 to let agents act for people, or remove 'agents:'",
            **data,
        )
    if not facts.auth_manager.endswith("OktaFabAuthManager"):
        return check.fail(
            f"the mapping lists agents, but [core] auth_manager is {facts.auth_manager or '(not set)'}: only "
            "okta_security's auth manager issues delegated tokens and limits each request to what both allow",
            f"set AIRFLOW__CORE__AUTH_MANAGER={facts.layout.recommended_auth_manager}",
            **data,
        )
    if not audience:
        return check.ok(
            f"agents {', '.join(listed)[:200]} may exchange a person's Okta token (RFC 8693); ID-JAGs (Okta Cross "
            "App Access) are refused until OKTA_AGENT_AUDIENCE is set",
            **data,
        )
    given = urlsplit(audience)
    if given.scheme != "https" and not _loopback(given.hostname or ""):
        return check.fail(
            f"OKTA_AGENT_AUDIENCE = {audience} is not https",
            "use the public https URL of Airflow's <base url>/auth/token, as entered for Airflow in Okta",
            **data,
        )
    if not settings.groups_api_configured or settings.groups_source == "claims":
        return check.warn(
            f"OKTA_AGENT_AUDIENCE = {audience}, but an ID-JAG carries no groups and this Airflow cannot read them "
            "from Okta's Groups API, so every ID-JAG is refused (no_groups_source)",
            "set Okta API credentials (OKTA_API_TOKEN, or OKTA_API_CLIENT_ID and OKTA_API_PRIVATE_KEY) and leave "
            "OKTA_GROUPS_SOURCE at auto (docs/agents.md)",
            **data,
        )
    return check.ok(
        f"agents {', '.join(listed)[:200]}: ID-JAGs must name aud {audience}, signed by the org "
        f"{settings.groups_api_org_url}; tokens live at most {settings.agent_token_minutes} min",
        **data,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- running ------------------------------------------------------------------------------------


def default_checks() -> Sequence[Check]:
    """Return every check, in the order they run (later ones read what earlier ones learned)."""
    return (
        check_settings,
        check_webserver_config,
        check_auth_manager,
        check_universal_logout,
        check_mapping,
        check_agents,
        check_roles,
        doctor_okta.check_discovery,
        doctor_okta.check_issuer,
        doctor_okta.check_jwks,
        doctor_okta.check_groups,
        doctor_probes.check_client,
        doctor_probes.check_redirect_uris,
        doctor_okta.check_clock,
    )


def run_checks(ctx: DoctorContext, checks: Sequence[Check] | None = None) -> list[CheckResult]:
    """Run ``checks`` in order; a check that crashes is reported as failed, with its error."""
    for check in checks or default_checks():
        try:
            result = check(ctx)
        except Exception as e:  # noqa: BLE001 - one broken check must not hide the others
            log.debug("check %s crashed", check.__name__, exc_info=True)
            name = check.__name__.removeprefix("check_")
            result = CheckResult(
                name,
                name,
                Status.FAIL,
                f"the check itself failed: {type(e).__name__}: {e}",
                "run with -v for the traceback and report it",
            )
        ctx.results.append(result)
    return ctx.results


def exit_code(results: Sequence[CheckResult]) -> int:
    """Return 1 if any check failed, else 0."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def summary(results: Sequence[CheckResult]) -> dict[str, int]:
    """Return how many checks ended in each status."""
    return {s.value: sum(1 for r in results if r.status is s) for s in Status}


def render_text(results: Sequence[CheckResult], *, header: str = "", ascii_only: bool = False) -> str:
    """Return the human-readable report: one line per check, details and fixes indented."""
    marks = {s: s.value.upper() for s in Status} if ascii_only else SYMBOLS
    width = max(len(m) for m in marks.values())
    lines = [header, ""] if header else []
    for r in results:
        first, *rest = r.detail.splitlines() or [""]
        lines.append(f"{marks[r.status]:<{width}} {r.title}: {first}")
        lines.extend(f"{'':<{width}}     {line}" for line in rest)
        if r.fix and r.status in (Status.FAIL, Status.WARN):
            lines.append(f"{'':<{width}}   fix: {r.fix}")
    counts = summary(results)
    lines.append("")
    lines.append(
        f"Summary: {counts['ok']} ok, {counts['fail']} failing, {counts['warn']} warning(s), {counts['skip']} skipped"
    )
    return "\n".join(lines)
