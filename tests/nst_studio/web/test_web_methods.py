"""The app's form takes the brushstroke and CPPN methods, the sliced Wasserstein and STROTSS
losses, the self-similarity content loss and the strotss preset by name."""
from __future__ import annotations

from nst_core.methods import available_methods
from nst_studio.web import forms

from conftest import FORM_LIMITS as LIMITS, form


def test_the_form_reads_the_new_methods_and_losses():
    s = forms.settings_from_form(form(method="adam:brushstrokes", style_loss="sliced",
                                      content_loss="self_similarity"), limits=LIMITS)
    assert (s.optimizer, s.param, s.style_loss, s.content_loss) == \
        ("adam", "brushstrokes", "sliced", "self_similarity")
    s = forms.settings_from_form(form(method="lbfgs:cppn", style_loss="strotss"),
                                 limits=LIMITS)
    assert (s.param, s.style_loss) == ("cppn", "strotss")


def test_the_strotss_preset_and_the_compare_choices():
    values = forms.preset_values("strotss", LIMITS)
    s = forms.settings_from_form(form(**values), limits=LIMITS)
    assert (s.style_loss, s.content_loss, s.param) == ("strotss", "self_similarity", "pyramid")
    offered = {v for _, v in available_methods()}
    assert {"adam:brushstrokes", "lbfgs:cppn", "sgd:cppn"} <= offered
