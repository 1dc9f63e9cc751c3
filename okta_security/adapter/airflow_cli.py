"""``airflow okta <command>``: okta-airflow's argparse commands (:mod:`okta_security.cli`) as an Airflow CLI group.

Airflow has no mutually exclusive groups, so the caller's ``run`` receives the command's own parser to check those.
"""

from __future__ import annotations

import argparse
import functools
import logging
from typing import TYPE_CHECKING, Any

from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand
from rich.markup import escape

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

# Keyword arguments of argparse actions that Airflow's Arg passes on to add_argument.
_STORE_KEYS = ("nargs", "default", "type", "choices", "required", "metavar")


def command_group(
    parser: argparse.ArgumentParser,
    *,
    name: str,
    help: str,  # noqa: A002 - Airflow's own name for it
    run: Callable[[argparse.ArgumentParser, argparse.Namespace], None],
) -> GroupCommand:
    """Return ``parser``'s subcommands as one Airflow CLI group; each calls ``run(its parser, args)``."""
    global_args = [to_arg(a) for a in parser._actions if _translatable(a)]
    commands = []
    for command, (sub, help_line) in _subcommands(parser).items():
        try:
            args = [to_arg(a) for a in sub._actions if _translatable(a)]
            _try_building(command, [*args, *global_args])
        except (TypeError, ValueError, argparse.ArgumentError):
            # Airflow builds one parser for every command: an error here would break `airflow` itself.
            log.exception("`airflow okta %s` is left out: its options cannot be given to Airflow's CLI", command)
            continue
        commands.append(
            ActionCommand(
                name=command,
                help=_text(help_line) or "",
                description=_text(sub.description),
                epilog=_text(sub.epilog),
                func=functools.partial(run, sub),
                args=(*args, *global_args),
            )
        )
    return GroupCommand(name=name, help=help, subcommands=commands, description=_text(parser.description))


def to_arg(action: argparse.Action) -> Arg:
    """Return Airflow's ``Arg`` that adds ``action`` again; refuse kinds it cannot express."""
    kwargs: dict[str, Any] = {}
    if action.help is not None:
        kwargs["help"] = _text(action.help)
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        kwargs["action"] = "store_true" if isinstance(action, argparse._StoreTrueAction) else "store_false"
    elif isinstance(action, (argparse._StoreAction, argparse._AppendAction)):
        if isinstance(action, argparse._AppendAction):
            kwargs["action"] = "append"
        for key in _STORE_KEYS:
            value = getattr(action, key)
            # argparse refuses ``required`` for positionals (they always are) and adds ``False`` itself.
            if value is not None and not (key == "required" and (value is False or not action.option_strings)):
                kwargs[key] = value
    else:
        raise TypeError(f"cannot express argparse action {type(action).__name__} ({action.dest}) in Airflow's CLI")
    if not action.option_strings:
        kwargs.pop("required", None)  # argparse decides that for a positional (from nargs), and refuses it given
        return Arg((action.dest,), **kwargs)
    kwargs["dest"] = action.dest
    return Arg(tuple(action.option_strings), **kwargs)


def _try_building(command: str, args: list[Arg]) -> None:
    """Add ``args`` to a scratch parser, as Airflow will; raise what Airflow would meet."""
    scratch = argparse.ArgumentParser(prog=command, add_help=False)
    for arg in args:
        arg.add_to_parser(scratch)


def _translatable(action: argparse.Action) -> bool:
    # --version stays okta-airflow's: under Airflow, `airflow providers list` shows okta_security's version.
    return not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction, argparse._VersionAction))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """Return each subcommand's parser and help line."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            return {name: (sub, helps.get(name) or name) for name, sub in action.choices.items()}
    return {}


def _text(text: str | None) -> str | None:
    """Return ``text`` safe for Airflow's rich help formatter (``[okta]`` is text, not a style tag)."""
    return None if text is None else escape(text)
