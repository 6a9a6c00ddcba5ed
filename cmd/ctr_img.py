"""bb ctr-img: isula-build's command spelling (`isula-build ctr-img build|images|rm|...`), mapped
to bb's verbs."""

from typing import Any

from typer.core import TyperGroup

from bb.cmd.common import verb_app

# isula-build verb -> bb verb
ALIASES = {
    "build": "build",
    "images": "images",
    "import": "import",
    "load": "load",
    "rm": "rmi",
    "save": "save",
    "tag": "tag",
    "pull": "pull",
    "push": "push",
}


class CtrImgGroup(TyperGroup):
    """Each isula-build verb runs the bb verb it corresponds to."""

    def list_commands(self, ctx: Any) -> list[str]:
        """The isula-build verbs."""
        return sorted(ALIASES)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The bb command behind an isula-build verb."""
        from bb.cmd.main import VerbGroup

        if cmd_name not in ALIASES:
            return None
        command = VerbGroup.get_command(self, ctx, ALIASES[cmd_name])  # type: ignore[arg-type]
        if command is not None:
            command.name = cmd_name
        return command


app = verb_app(
    cls=CtrImgGroup, help="isula-build's ctr-img commands (build, images, rm, save, load, ...)."
)


@app.callback()
def ctr_img() -> None:
    """isula-build's ctr-img commands (build, images, rm, save, load, ...)."""
