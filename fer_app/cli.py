"""The app's command-line runner: data_tools.cli.run with every user error of fer_app.errors."""
from data_tools import cli
from fer_app.errors import USER_ERRORS


def run(main, argv=None):
    """Call main(argv); a user error prints 'error: ...' on stderr and exits 2 (see data_tools.cli.run)."""
    cli.run(main, argv, USER_ERRORS)
