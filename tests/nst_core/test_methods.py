"""Methods (OPTIMIZER:PARAM): parsed, applied and labelled by one rule for the comparison, the
sweep, the command line and the app."""
import pytest

from nst_core.experiments import sweep
from nst_core.methods import (DEFAULT_METHODS, Method, method_label, parse_method, parse_methods,
                              with_method)
from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.settings import Settings


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("param", list(PARAMETERIZATIONS))
def test_every_registered_pair_parses(optimizer, param):
    assert parse_method(f"{optimizer}:{param}") == (optimizer, param)
    assert parse_method(f" {optimizer.upper()} : {param} ") == (optimizer, param)
    assert "·" in method_label(optimizer, param)


def test_labels():
    assert method_label("adam", "fft") == "Adam · FFT"
    assert method_label("lbfgs", "pixels") == "L-BFGS · pixels"


@pytest.mark.parametrize("text, message", [
    ("adamfft", "not OPTIMIZER:PARAM"), ("newton:fft", "unknown optimizer 'newton'.*lbfgs"),
    ("adam:voxels", "unknown parameterization 'voxels'.*pixels")])
def test_bad_methods_name_the_choices(text, message):
    with pytest.raises(ValueError, match=message):
        parse_method(text)


def test_a_method_keeps_an_explicit_learning_rate():
    # "--lr, if given, applies to every method": the comparison and the sweep alike.
    base = Settings(lr=0.5)
    assert with_method(base, parse_method("adam:fft")).lr == 0.5
    cell = sweep.cell_settings(base, "method", "adam:fft")
    assert (cell.optimizer, cell.param, cell.lr) == ("adam", "fft", 0.5)
    # Without one, each method starts from its own default.
    assert sweep.cell_settings(Settings(), "method", "adam:fft").lr is None


def test_sweep_method_values_are_checked_by_name():
    with pytest.raises(ValueError, match="unknown parameterization 'voxels'.*pixels"):
        sweep.cell_settings(Settings(), "method", "adam:voxels")
    with pytest.raises(ValueError, match="unknown optimizer 'newton'.*lbfgs"):
        sweep.cell_settings(Settings(), "method", "newton:fft")
    # Case and spaces as the comparison takes them.
    cell = sweep.cell_settings(Settings(), "method", " ADAM : fft ")
    assert (cell.optimizer, cell.param) == ("adam", "fft")


def test_a_list_of_methods_is_checked_once():
    assert parse_methods(["adam:fft", "lbfgs:pixels"]) == [("adam", "fft"), ("lbfgs", "pixels")]
    assert parse_methods("adam:fft")[0].key == "adam:fft"
    assert Method("adam", "fft").label == "Adam · FFT"
    with pytest.raises(ValueError, match="listed twice"):
        parse_methods(["adam:fft", "ADAM:fft"])
    with pytest.raises(ValueError, match="no methods"):
        parse_methods([])
    assert [parse_method(m).param for m in DEFAULT_METHODS] == list(PARAMETERIZATIONS)
