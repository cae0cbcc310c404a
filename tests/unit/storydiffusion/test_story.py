"""Golden tests for StoryDiffusion's story parser: characters, panels, captions, [NC], identity images and every error."""

from __future__ import annotations

import pytest

from kinema.storydiffusion.story import Panel, Story, StoryError, parse_story

BOB = "a man in a black suit"
ALICE = "a woman in a white shirt"
CHARACTERS = "[Bob] a man in a black suit\n\n[Alice]a woman in a  white shirt  # the heroine\n"
STORY = "\n".join([
    "[Bob] reads a newspaper at home #Bob finds a treasure map.",
    "[Bob] walks along a forest road",
    "[Alice] makes a phone call at home # [Bob] invites [Alice] on an adventure",
    "",
    "[NC]A tiger in the forest at night  ",
    "[Bob]  and [Alice] run through the forest, at night",
    "[Alice] looks frightened, in the forest #  Run!",
    "[Alice] laughs in a house full of gold",
    "[Alice] hugs [Bob], [Alice] smiling",
])


def test_a_two_character_story_with_id_length_2():
    story = parse_story(CHARACTERS, STORY, 2)
    assert story == Story(
        characters=(("Bob", BOB), ("Alice", ALICE)),
        panels=(
            Panel(line=1, prompt=f"{BOB} reads a newspaper at home", caption="Bob finds a treasure map.", characters=("Bob",)),
            Panel(line=2, prompt=f"{BOB} walks along a forest road", caption="", characters=("Bob",)),
            Panel(line=3, prompt=f"{ALICE} makes a phone call at home", caption="Bob invites Alice on an adventure", characters=("Alice",)),
            Panel(line=5, prompt="A tiger in the forest at night", caption="", characters=()),
            Panel(line=6, prompt=f"{BOB} and {ALICE} run through the forest, at night", caption="", characters=("Bob", "Alice")),
            Panel(line=7, prompt=f"{ALICE} looks frightened, in the forest", caption="Run!", characters=("Alice",)),
            Panel(line=8, prompt=f"{ALICE} laughs in a house full of gold", caption="", characters=("Alice",)),
            Panel(line=9, prompt=f"{ALICE} hugs {BOB}, {ALICE} smiling", caption="", characters=("Alice", "Bob")),
        ),
        identity=(("Bob", (0, 1)), ("Alice", (2, 5))),
        id_length=2,
    )


def test_the_story_answers_who_writes_and_who_reads_each_panel():
    story = parse_story(CHARACTERS, STORY, 2)
    assert story.identity_of("Bob") == (0, 1)
    assert story.identity_of("Alice") == (2, 5)
    assert story.identity_panels == frozenset({0, 1, 2, 5})
    assert [story.writer_of(index) for index in range(8)] == ["Bob", "Bob", "Alice", None, None, "Alice", None, None]
    assert story.readers == ((), (), (), (), ("Bob", "Alice"), (), ("Alice",), ("Alice", "Bob"))
    assert story.reads(7) == ("Alice", "Bob")
    assert story.generation_order == (0, 1, 2, 5, 3, 4, 6, 7)
    assert story.captions == ("Bob finds a treasure map.", "", "Bob invites Alice on an adventure", "", "", "Run!", "", "")
    assert story.prompts[3] == "A tiger in the forest at night"


def test_id_length_1_takes_the_first_panel_naming_only_the_character():
    story = parse_story("[Kitty] a small white cat", "[Kitty] at home #morning\n[NC] a garden\n[Kitty] in the garden\na rainy street", 1)
    assert story.panels == (
        Panel(line=1, prompt="a small white cat at home", caption="morning", characters=("Kitty",)),
        Panel(line=2, prompt="a garden", caption="", characters=()),
        Panel(line=3, prompt="a small white cat in the garden", caption="", characters=("Kitty",)),
        Panel(line=4, prompt="a rainy street", caption="", characters=()),
    )
    assert story.identity == (("Kitty", (0,)),)
    assert story.readers == ((), (), ("Kitty",), ())
    assert [story.writer_of(index) for index in range(4)] == ["Kitty", None, None, None]
    assert story.generation_order == (0, 1, 2, 3)


def test_a_panel_naming_nobody_may_open_the_story_and_reads_nothing():
    story = parse_story("[Bob] a man", "a city skyline at dawn\n[Bob] wakes up\n[Bob] drinks coffee", 2)
    assert story.identity == (("Bob", (1, 2)),)
    assert story.reads(0) == () and story.writer_of(0) is None


def test_a_character_no_panel_names_has_no_identity_images():
    story = parse_story("[Bob] a man\n[Carol] a girl", "[Bob] wakes up", 1)
    assert story.identity == (("Bob", (0,)),)
    assert story.identity_of("Carol") == ()
    with pytest.raises(KeyError, match="'Dave' is not a character of this story; its characters are Bob, Carol."):
        story.identity_of("Dave")


def test_words_next_to_a_name_stay_apart_and_stray_commas_go():
    story = parse_story("[Bob] a man", "[Bob]and friends\n[Bob] again\n[NC], a field ,at noon,", 1)
    assert story.prompts == ("a man and friends", "a man again", "a field,at noon")


def test_a_panel_index_out_of_range_is_refused():
    story = parse_story("[Bob] a man", "[Bob] wakes up", 1)
    with pytest.raises(IndexError, match="Panel index 1 is out of range: the story has 1 panels"):
        story.reads(1)
    with pytest.raises(IndexError, match="Panel index -1 is out of range"):
        story.writer_of(-1)


CHARACTER_ERRORS = {
    "not a definition": (
        "[Bob] a man\nAlice a woman",
        "Characters line 2 ('Alice a woman') is not a character definition: each line must be '[Name] description'. "
        "Write it as, for example, '[Bob] a man wearing a black suit', or remove the line."),
    "duplicate": (
        "[Bob] a man\n\n[Bob] another man",
        "Characters line 3 ('[Bob] another man') defines [Bob] again (first defined on characters line 1); "
        "each name may be defined once, so remove one definition or rename it."),
    "reserved NC": (
        "[NC] nobody",
        "Characters line 1 ('[NC] nobody') defines [NC], but [NC] is reserved for panels with no character; "
        "give the character another name."),
    "empty name": (
        "[Bob] a man\n[ ] someone",
        "Characters line 2 ('[ ] someone') has an empty name '[]'; write the character's name between the brackets."),
    "no description": (
        "[Bob]   # todo",
        "Characters line 1 ('[Bob]   # todo') gives [Bob] no description; write what the character looks like after the name."),
    "bracket in description": (
        "[Bob] a man\n[Tom] [Bob]'s brother",
        "Characters line 2 (\"[Tom] [Bob]'s brother\") has a bracket in the description of [Tom]; a description cannot name "
        "characters, so write it out in plain words without '[' or ']'."),
}


@pytest.mark.parametrize("case", CHARACTER_ERRORS)
def test_a_bad_characters_line_is_named_with_its_fix(case):
    characters, message = CHARACTER_ERRORS[case]
    with pytest.raises(StoryError) as caught:
        parse_story(characters, "[Bob] wakes up", 1)
    assert str(caught.value) == message


STORY_ERRORS = {
    "unknown character": (
        "[Bob] wakes up\n\n[Carol] waves", 1,
        "Story line 3 ('[Carol] waves') names [Carol], which is not a defined character (the defined characters are Bob, Alice); "
        "correct the name, or define it in the characters text as '[Carol] description'."),
    "NC with a name": (
        "[Bob] wakes up\n[NC] [Alice] waves", 1,
        "Story line 2 ('[NC] [Alice] waves') uses [NC] (no character) and also names Alice; "
        "a panel either has no character or names its characters, so remove [NC] or the names."),
    "NC among the identity panels": (
        "[Bob] wakes up\n\n[NC] a garden\n[Bob] sleeps", 2,
        "Story line 3 ('[NC] a garden') uses [NC] among the first 2 panels (id_length 2), which StoryDiffusion keeps for "
        "character panels; move this panel later in the story or lower id_length."),
    "too few panels naming the character alone": (
        "[Bob] wakes up\n[Bob] eats\n[Bob] and [Alice] talk\n[Alice] waves", 2,
        "Story line 3 names [Alice], but only 1 panel(s) name [Alice] alone (story line 4); its identity images are the first "
        "id_length = 2 such panels. Add 1 more panel(s) naming only [Alice], or lower id_length to 1."),
    "no panel naming the character alone": (
        "[Bob] wakes up\n[Alice] and [Bob] talk\n[Bob] eats\n[Bob] sleeps", 3,
        "Story line 2 names [Alice], but only 0 panel(s) name [Alice] alone (none); its identity images are the first "
        "id_length = 3 such panels. Add 3 more panel(s) naming only [Alice]."),
    "unmatched bracket": (
        "[Bob] wakes up [early", 1,
        "Story line 1 ('[Bob] wakes up [early') has an unmatched '[' or ']'; write a character as '[Name]' "
        "and use no other brackets in a prompt."),
    "caption only": (
        "[Bob] wakes up\n  #The end", 1,
        "Story line 2 ('#The end') has no prompt text before its caption; describe the scene, for example "
        "'[NC] a house in the forest'."),
    "empty story": (
        "\n  \n", 1,
        "The story text has no panels; write one panel per line, for example '[Bob] reads a newspaper at home #Bob finds a map'."),
}


@pytest.mark.parametrize("case", STORY_ERRORS)
def test_a_bad_story_line_is_named_with_its_fix(case):
    story, id_length, message = STORY_ERRORS[case]
    with pytest.raises(StoryError) as caught:
        parse_story("[Bob] a man\n[Alice] a woman", story, id_length)
    assert str(caught.value) == message


@pytest.mark.parametrize("id_length", [0, -1, 1.5, True])
def test_id_length_must_be_a_whole_number_of_at_least_1(id_length):
    with pytest.raises(StoryError) as caught:
        parse_story("[Bob] a man", "[Bob] wakes up", id_length)
    assert str(caught.value) == (f"id_length is {id_length!r}, but each character needs at least 1 identity image; "
                                 "set id_length to a whole number of 1 or more (the reference offers 1 to 4).")


def test_story_error_is_a_value_error():
    assert issubclass(StoryError, ValueError)
