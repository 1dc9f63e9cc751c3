"""``okta-airflow init``: write the drop-in ``webserver_config.py`` and a mapping template into AIRFLOW_HOME.

Needs nothing but this package: the files are package data (``okta_security/templates``), so a
fresh environment with only the wheel installed can set up an Airflow home before Airflow is
even installed there.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okta_security.cli import EXIT_OK, add_command
from okta_security.cli.output import emit
from okta_security.errors import OktaSecurityError
from okta_security.settings import loader as settings

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"

HELP = "write webserver_config.py and a mapping template into AIRFLOW_HOME"
DESCRIPTION = """\
Write okta_security's drop-in webserver_config.py and a role-mapping template
(okta_role_mapping.yaml) into AIRFLOW_HOME, then print the next steps. Existing files are
never overwritten unless --force is given."""
EPILOG = (
    "Exit codes: 0 written (or nothing to do with --dry-run), 1 a file exists (use --force) or is a symbolic "
    "link or not a regular file (never written through, even with --force), 2 usage error."
)
FILE_MODE = 0o644  # Airflow reads both files; neither holds a secret (secrets come from the environment)


class TargetExists(OktaSecurityError):
    """A file ``init`` would write already exists and ``--force`` was not given."""

    code = "init_target_exists"


class TargetNotRegular(OktaSecurityError):
    """A path ``init`` would write is a symbolic link (even a dangling one) or not a regular file."""

    code = "init_target_not_a_regular_file"


@dataclass(frozen=True)
class Template:
    """One file ``init`` writes: its name in the package's templates and in AIRFLOW_HOME."""

    source: str
    target: str
    purpose: str


TEMPLATES: tuple[Template, ...] = (
    Template("webserver_config.py", "webserver_config.py", "the drop-in: Okta sign-in, roles from the mapping file"),
    Template("okta_role_mapping.yaml", "okta_role_mapping.yaml", "Okta groups -> Airflow roles; edit it"),
)


def register(subparsers: Any) -> None:
    """Add the ``init`` subcommand."""
    parser = add_command(subparsers, "init", HELP, DESCRIPTION, epilog=EPILOG, dry_run="show what would be written")
    where = "where to write (default: $AIRFLOW_HOME, else ~/airflow); created if missing"
    parser.add_argument("--airflow-home", metavar="DIR", help=where)
    parser.add_argument("--force", action="store_true", help="overwrite files that already exist")
    parser.set_defaults(func=run)


def template_text(name: str) -> str:
    """Return the text of one packaged template."""
    return resources.files("okta_security").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


def airflow_home(given: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """Return the Airflow home to write into: the option, else $AIRFLOW_HOME, else ~/airflow (Airflow's default)."""
    return Path(given or settings.airflow_home(environ)).expanduser().resolve()


def run(args: argparse.Namespace) -> int:
    """Write the templates into the Airflow home (refusing to overwrite without --force); print the next steps."""
    home = airflow_home(args.airflow_home)
    targets = [(template, home / template.target) for template in TEMPLATES]
    existing = [path for _, path in targets if _refuse_unless_regular(path)]
    if existing and not args.force:
        names = ", ".join(str(p) for p in existing)
        raise TargetExists(
            f"{names} already exist{'s' if len(existing) == 1 else ''}; nothing written. "
            "Compare with the packaged templates (okta-airflow init --airflow-home <empty dir>) "
            "or run again with --force to overwrite."
        )
    verb = "Would write" if args.dry_run else "Wrote"
    if not args.dry_run:
        home.mkdir(parents=True, exist_ok=True)
    for template, path in targets:
        if not args.dry_run:
            write_file(path, template_text(template.source))
        replaced = " (replaced)" if path in existing else ""
        emit(f"{verb} {path}{replaced}: {template.purpose}")
    emit()
    emit(next_steps(home))
    return EXIT_OK


def _refuse_unless_regular(path: Path) -> bool:
    """Return whether ``path`` exists as a regular file; raise TargetNotRegular for a link or anything else.

    ``lstat``, not ``exists``: a dangling symlink does not "exist", and writing to it would create
    the file wherever it points; a live one would overwrite its target.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise TargetNotRegular(
            f"{path} is a symbolic link (to {os.readlink(path)}); nothing written: init never writes through a "
            "link, even with --force. Remove the link, or run init with --airflow-home <the directory you meant>."
        )
    if not stat.S_ISREG(st.st_mode):
        raise TargetNotRegular(
            f"{path} exists and is not a regular file; nothing written. Move it away, or run init with "
            "--airflow-home <another directory>."
        )
    return True


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, then rename it into place.

    The rename replaces whatever is at ``path`` (a link put there meanwhile included) without
    following it, and a reader never sees half a file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            os.fchmod(handle.fileno(), FILE_MODE)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def next_steps(home: Path) -> str:
    """Return what is left to do after ``init``, for this home."""
    mapping = home / "okta_role_mapping.yaml"
    lines = [
        "Next steps:",
        "  1. In Okta, create an OIDC web app; sign-in redirect URI https://<airflow host>/auth/oauth-authorized/okta,",
        "     sign-out redirect URI https://<airflow host>/auth/login/ (README: Okta app setup).",
        "  2. In the api-server's environment set OKTA_ISSUER, OKTA_CLIENT_ID and OKTA_CLIENT_SECRET",
        "     (or OKTA_CLIENT_SECRET_FILE), AIRFLOW__CORE__AUTH_MANAGER=" + AUTH_MANAGER + ",",
        "     and AIRFLOW__API__BASE_URL=https://<airflow host> (the public URL the redirect URIs are built from;",
        "     Airflow 2.11: AIRFLOW__WEBSERVER__BASE_URL).",
        f"  3. Edit {mapping} (Okta groups -> Airflow roles), then: okta-airflow check-mapping {mapping}",
        "  4. Check the set-up where the api-server runs: okta-airflow doctor; then restart airflow api-server.",
    ]
    config_file = os.environ.get("AIRFLOW__FAB__CONFIG_FILE")
    if config_file and Path(config_file).expanduser().resolve() != home / "webserver_config.py":
        lines.append(
            f"Note: AIRFLOW__FAB__CONFIG_FILE={config_file} points elsewhere; Airflow reads that file, not "
            f"{home / 'webserver_config.py'}."
        )
    given = "OKTA_ROLE_MAPPING_FILE" in settings.given_settings()
    mapping_env = settings.env_value("OKTA_ROLE_MAPPING_FILE") if given else ""
    if mapping_env and Path(mapping_env).expanduser().resolve() != mapping:
        lines.append(f"Note: OKTA_ROLE_MAPPING_FILE={mapping_env} points elsewhere; okta_security reads that file.")
    return "\n".join(lines)
