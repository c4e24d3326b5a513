"""Registries: registration, duplicates, look-up with suggestions, kwargs checked on build."""

from __future__ import annotations

import pytest
from torch import nn

import geostl.models as gm
from geostl.models import BACKBONES, FUSIONS, HEADS, QUANTISERS, Registry


def _toy_registry() -> Registry:
    reg = Registry("widget")

    @reg.register("small_widget")
    class SmallWidget:
        def __init__(self, width: int, depth: int = 2, *, colour: str = "red") -> None:
            self.width, self.depth, self.colour = width, depth, colour

    return reg


def test_register_get_available_build():
    reg = _toy_registry()
    assert reg.available() == ["small_widget"]
    assert "small_widget" in reg and len(reg) == 1
    w = reg.build("small_widget", width=3, colour="blue")
    assert (w.width, w.depth, w.colour) == (3, 2, "blue")
    assert reg.accepted_arguments("small_widget") == ["width", "depth", "colour"]


def test_duplicate_name_is_refused():
    reg = _toy_registry()
    with pytest.raises(ValueError, match=r"'small_widget' is already registered"):

        @reg.register("small_widget")
        class Other:  # noqa: B903
            pass


def test_unknown_name_suggests_close_matches():
    reg = _toy_registry()
    with pytest.raises(KeyError, match=r"unknown widget 'smal_widget'.*'small_widget'"):
        reg.get("smal_widget")
    with pytest.raises(KeyError, match="Available: small_widget"):
        reg.get("gadget")


def test_unknown_kwarg_lists_close_match_and_accepted():
    reg = _toy_registry()
    with pytest.raises(TypeError) as err:
        reg.build("small_widget", width=3, colur="blue")
    msg = str(err.value)
    assert "'colur'" in msg and "did you mean 'colour'" in msg
    assert "Accepted: width, depth, colour" in msg


def test_missing_required_argument_is_reported():
    reg = _toy_registry()
    with pytest.raises(TypeError, match=r"widget 'small_widget'.*width"):
        reg.build("small_widget", depth=1)


def test_kwargs_constructor_skips_name_check():
    reg = Registry("thing")

    @reg.register("free")
    def make(**kwargs):
        return kwargs

    assert reg.build("free", anything=1) == {"anything": 1}
    assert reg.accepted_arguments("free") is None


def test_the_four_registries(monkeypatch):
    assert {"convlstm", "simvp"} <= set(BACKBONES.available())
    assert gm.available() == BACKBONES.available()
    assert {"concat", "none"} <= set(FUSIONS.available())
    # quantisers and heads have no members yet; the machinery works on them all the same
    for reg in (QUANTISERS, HEADS):
        monkeypatch.setattr(reg, "_entries", {})

        @reg.register("identity_test")
        class Ident(nn.Module):
            def __init__(self, dim: int) -> None:
                super().__init__()
                self.dim = dim

        assert reg.available() == ["identity_test"]
        assert reg.build("identity_test", dim=4).dim == 4
        with pytest.raises(ValueError, match="already registered"):
            reg.register("identity_test")(Ident)
        with pytest.raises(TypeError, match="did you mean 'dim'"):
            reg.build("identity_test", dims=4)


def test_build_backbone_kwarg_errors_name_close_matches():
    base = dict(in_shape=(3, 1, 8, 8), out_channels=1, t_out=2)
    with pytest.raises(TypeError, match=r"'num_hiden' \(did you mean 'num_hidden'\?\)"):
        gm.build_backbone("convlstm", num_hiden=[4], **base)
    with pytest.raises(TypeError, match=r"'hid_s' \(did you mean 'hid_S'"):
        gm.build_backbone("simvp", hid_s=8, **base)
    with pytest.raises(KeyError, match=r"'convlstn'.*'convlstm'"):
        gm.build_backbone("convlstn", **base)
    model = gm.build_backbone("convlstm", num_hidden=[4], patch_size=2, **base)
    assert isinstance(model, nn.Module)
