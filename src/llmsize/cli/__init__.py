"""The `llmsize` command. Subcommands live in their own modules and are imported only when run,
so `llmsize params` starts fast; every user error ends as one line on stderr and exit status 2."""
from __future__ import annotations

import importlib
import os
import sys

import click

from llmsize import __version__
from llmsize.errors import LlmsizeError

# command name -> module whose COMMANDS list holds it
_LAZY: dict[str, str] = {
    "params": "llmsize.cli.params", "models": "llmsize.cli.params", "inspect": "llmsize.cli.quant",
    "infer": "llmsize.cli.memory", "train": "llmsize.cli.memory", "validate": "llmsize.cli.memory",
    "quant": "llmsize.cli.quant",
    "plan": "llmsize.cli.plan", "fit": "llmsize.cli.plan", "speed": "llmsize.cli.plan", "cost": "llmsize.cli.plan",
    "export": "llmsize.cli.export", "gpus": "llmsize.cli.plan",
    "design": "llmsize.cli.design", "compare": "llmsize.cli.design", "scaling": "llmsize.cli.design",
    "whatif": "llmsize.cli.design",
    "serve": "llmsize.cli.serve", "trace": "llmsize.cli.trace",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in _LAZY if self._find(n) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._find(name)

    @staticmethod
    def _find(name: str) -> click.Command | None:
        mod = _LAZY.get(name)
        if mod is None:
            return None
        try:
            commands = importlib.import_module(mod).COMMANDS
        except ModuleNotFoundError as e:
            if e.name == mod:  # that part of llmsize is not built (yet)
                return None
            raise
        return next((c for c in commands if c.name == name), None)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="llmsize")
def cli() -> None:
    """What a transformer language model costs before you touch a GPU: parameters, memory for
    inference and training, quantization, GPUs and parallelism, speed, cost, and design.

    MODEL is a preset name (`llmsize models`), a Hugging Face repo id (org/name[@revision][:TAG],
    headers only), a config.json, a model folder, a .safetensors or .gguf file, or '-' for a
    config.json on stdin; or leave it out and describe the architecture with knobs (--hidden,
    --layers, --heads, ...).
    """


NOTES: list[str] = []  # what adapters and knob defaults assumed, printed after a successful command


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line and exit status 2."""
    NOTES.clear()
    try:
        rv = cli.main(args=argv, prog_name="llmsize", standalone_mode=False)
        from llmsize.cli.present import echo_err

        for n in NOTES:
            echo_err(f"note: {n}")
    except LlmsizeError as e:
        _fail(str(e))
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        sys.exit(2)
    except click.UsageError as e:
        _fail(e.format_message())
    except click.ClickException as e:
        _fail(e.format_message())
    except click.Abort:
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug in llmsize, not the user's fault: say so in one line
        if os.environ.get("LLMSIZE_DEBUG"):
            raise
        click.echo(f"llmsize: internal error: {type(e).__name__}: {e} (set LLMSIZE_DEBUG=1 for the traceback "
                   f"and please report it)", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def _fail(msg: str) -> None:
    one_line = " ".join(msg.split())
    click.echo(f"llmsize: error: {one_line}", err=True)
    sys.exit(2)
