"""StoryDiffusion's style templates: the reference's nine names in order, and how a style wraps a prompt."""

from __future__ import annotations

import pytest

from kinema.storydiffusion.styles import STYLES, apply_style

NAMES = ["(No style)", "Japanese Anime", "Digital/Oil Painting", "Pixar/Disney Character", "Photographic", "Comic book",
         "Line art", "Black and White Film Noir", "Isometric Rooms"]


def test_the_nine_styles_in_the_reference_order():
    assert list(STYLES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_template_holds_the_prompt_once(name):
    positive, negative = STYLES[name]
    assert positive.count("{prompt}") == 1
    assert "{" not in positive.replace("{prompt}", "") and "}" not in positive.replace("{prompt}", "")
    assert (positive == "{prompt}" and negative == "") == (name == "(No style)")


def test_no_style_leaves_prompt_and_negative_unchanged():
    assert apply_style("(No style)", "a cat {on} a mat", "blurry") == ("a cat {on} a mat", "blurry")
    assert apply_style("(No style)", "a cat") == ("a cat", "")


def test_a_style_wraps_the_prompt_and_joins_the_negatives():
    template, style_negative = STYLES["Comic book"]
    positive, negative = apply_style("Comic book", "a man reads {a} newspaper", "extra fingers")
    assert positive == template.replace("{prompt}", "a man reads {a} newspaper")
    assert positive.startswith("comic book panel of a man reads {a} newspaper, ")
    assert negative == f"{style_negative}, extra fingers"
    assert apply_style("Comic book", "a man")[1] == style_negative


def test_styles_cannot_be_changed():
    with pytest.raises(TypeError):
        STYLES["Mine"] = ("{prompt}", "")  # type: ignore[index]


def test_an_unknown_style_names_the_value_and_lists_the_styles():
    with pytest.raises(ValueError) as caught:
        apply_style("Anime", "a cat")
    assert str(caught.value) == "Unknown style 'Anime'; choose one of: " + ", ".join(repr(name) for name in NAMES) + "."
