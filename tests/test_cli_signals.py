"""data_tools.cli.run: a signal's exception ends the command with its code, even wrapped."""
import pytest

from data_tools.cli import Terminated, run


def _ending(error):
    def main(argv):
        raise error
    with pytest.raises(SystemExit) as exit_info:
        run(main, [])
    return exit_info.value.code


def _wrapped(cause):
    """What Python raises when the signal lands while a class is created (in __set_name__)."""
    try:
        raise RuntimeError("Error calling __set_name__ on 'Field' instance") from cause
    except RuntimeError as error:
        return error


def test_signals_end_with_their_codes_even_when_wrapped(capsys):
    assert _ending(Terminated()) == 143
    assert _ending(KeyboardInterrupt()) == 130
    assert _ending(_wrapped(Terminated())) == 143
    assert _ending(_wrapped(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err.splitlines() == ["terminated", "interrupted", "terminated", "interrupted"]


def test_other_errors_still_propagate():
    with pytest.raises(RuntimeError):
        _ending(_wrapped(ValueError("not a signal")))
