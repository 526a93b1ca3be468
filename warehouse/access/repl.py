"""The interactive `hub sql` shell: statements end with ';' (several on one line run one after the
other, each checked, run and audited alone), dot commands (.help, .tables, .schema, .mode, .quit),
history kept in <var>/sql_history through readline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from warehouse.access.output import MODES

HELP = """\
Statements end with ';' and may span lines; several on one line run one after the other.
Only SELECT (and FROM …, WITH …, DESCRIBE, SUMMARIZE) runs, on the views of your role; every query is audited.

  .help              this text
  .tables            the views you may read
  .schema [VIEW]     columns of every view (or of VIEW) with the catalogue's names and masks
  .mode MODE         table | csv | json | line (now: {mode})
  .quit              leave (also .exit, \\q or Ctrl-D)

Screen output stops at HUB_QUERY_ROW_LIMIT rows; for every row write a file:
  hub sql -c "SELECT …" -o result.csv   (csv with BOM, json, xlsx or parquet by the file's suffix)
Times are shown in Beijing time with their offset (+08:00)."""
HISTORY_LENGTH = 2000


class Shell:
    """One analyst's session: the role, the output mode, and a function that runs one statement."""

    def __init__(self, role: str, mode: str, run: Callable[[str, str], bool], history: Path | None) -> None:
        self.role, self.mode, self.run, self.history = role, mode, run, history

    def loop(self) -> None:
        self._load_history()
        typer.echo(f"hub sql as {self.role}: .help for help, statements end with ';'")
        pending: list[str] = []
        try:
            while True:
                try:
                    line = input("hub> " if not pending else "...> ")
                except EOFError:
                    typer.echo()
                    return
                except KeyboardInterrupt:  # Ctrl-C at the prompt drops the statement being typed
                    typer.echo()
                    pending = []
                    continue
                stripped = line.strip()
                if not pending and stripped.startswith((".", "\\")):
                    if not self.command(stripped):
                        return
                    continue
                if not stripped and not pending:
                    continue
                pending.append(line)
                if stripped.endswith(";"):
                    self.statements("\n".join(pending))
                    pending = []
        finally:
            self._save_history()

    def command(self, line: str) -> bool:
        """Run one dot command; False to leave the shell."""
        word, _, argument = line.partition(" ")
        argument = argument.strip().rstrip(";")
        if word in (".quit", ".exit", "\\q"):
            return False
        if word == ".help":
            typer.echo(HELP.format(mode=self.mode))
        elif word == ".tables":
            self._tables()
        elif word == ".schema":
            self._schema(argument or None)
        elif word == ".mode":
            if argument in MODES:
                self.mode = argument
                typer.echo(f"mode {argument}")
            else:
                typer.secho(f".mode {argument or '?'}: use one of {', '.join(MODES)}", fg="red", err=True)
        else:
            typer.secho(f"{word}: unknown command; .help lists them", fg="red", err=True)
        return True

    def statements(self, text: str) -> None:
        from warehouse.access.audit import record_refusal
        from warehouse.access.statement import QueryRefused, split_statements

        try:
            queries = [statement.query for statement in split_statements(text)]
        except QueryRefused as refused:
            record_refusal(self.role, text, str(refused))
            typer.secho(f"refused: {refused}", fg="red", err=True)
            return
        for query in queries:
            if not self.run(query, self.mode):
                return  # a refused or failed statement stops the rest of the line, as a script would

    def _load_history(self) -> None:
        readline = _readline()
        if readline is None or self.history is None:
            return
        readline.set_history_length(HISTORY_LENGTH)
        if self.history.exists():
            try:
                readline.read_history_file(str(self.history))
            except OSError:
                pass  # an unreadable history is no reason to refuse the shell

    def _save_history(self) -> None:
        readline = _readline()
        if readline is None or self.history is None:
            return
        try:
            self.history.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(str(self.history))
            self.history.chmod(0o600)  # the statements may name people: the owner's eyes only
        except OSError:
            pass

    def _tables(self) -> None:
        from warehouse.access.audit import views_of

        typer.echo("\n".join(views_of(self.role)) or "(no views: nothing landed you may read)")

    def _schema(self, wanted: str | None) -> None:
        from warehouse.access.schema import describe_role

        views = describe_role(self.role)
        if wanted:
            views = [v for v in views if wanted.lower() in (v.qualified.lower(), v.name.lower())]
            if not views:
                typer.secho(f"{wanted}: not one of your views (.tables lists them)", fg="red", err=True)
                return
        for view in views:
            typer.echo(schema_text(view))


def schema_text(view) -> str:
    """A view as `.schema` prints it: its title, then one line per column."""
    head = f"{view.qualified}  -- {view.title}" + (f" ({view.code})" if view.code else "")
    if view.reads:
        head += f"\n  -- 来源 reads: {', '.join(view.reads)}"
    width = max((len(c.name) for c in view.columns), default=0)
    type_width = max((len(c.type) for c in view.columns), default=0)
    lines = [head]
    for column in view.columns:
        note = column.label + (f"  [脱敏 masked: {column.mask_label}]" if column.mask else "")
        lines.append(f"  {column.name:<{width}}  {column.type:<{type_width}}  {note}".rstrip())
    return "\n".join(lines) + "\n"


def _readline():
    try:
        import readline
    except ImportError:  # not on every platform; the shell works without history
        return None
    return readline
