"""StoryDiffusion's story prompts: characters, panels, captions and which panels are identity images.

Characters text, one per line: ``[Name] description``. Text after ``#`` is a comment; blank and
comment-only lines are ignored. Story text, one panel per non-blank line: ``prompt #caption``, where
``[Name]`` in the prompt stands for that character's description and ``[NC]`` marks a panel with no
character.

A character's identity images are the first ``id_length`` panels that name only that character (the
reference's ``process_original_prompt``): they are generated together, one batch per character, and
write its attention bank; every other panel reads the banks of the characters it names. As in the
reference app, ``[NC]`` may not appear among the first ``id_length`` panels.

Where this parser differs from the reference, it refuses what the reference silently mishandles:
malformed character lines, unknown names, ``[NC]`` beside a name, stray brackets and empty panels are
errors that name their line. Other decisions:

- A panel naming nobody without ``[NC]`` is generated like an ``[NC]`` panel (no bank: in the reference
  its list of characters is empty, so its attention reads nothing), but, as in the reference, which
  only checks the literal ``[NC]``, it is allowed among the first ``id_length`` panels.
- The prompt ends and the caption starts at the first ``#`` (the reference splits at the last one);
  in a caption, ``[Name]`` of a defined character is written as ``Name`` and ``[NC]`` is dropped.
  A line without ``#`` has the caption "" (the reference's comic then shows the whole line).
- A character that is defined but named in no panel has no identity images (the reference fails on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

NO_CHARACTER = "NC"  # the reserved name of [NC]

_TOKEN = re.compile(r"\[([^\[\]]*)\]")
_CHARACTER_LINE = re.compile(r"\[([^\[\]]*)\](.*)")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?])")


class StoryError(ValueError):
    """Characters or story text that cannot make a StoryDiffusion story; the message names the line and the fix."""


@dataclass(frozen=True)
class Panel:
    line: int  # 1-based line in the story text
    prompt: str  # names replaced by descriptions, [NC] and caption removed, whitespace tidied
    caption: str  # text after '#', "" when there is none
    characters: tuple[str, ...]  # the names it mentions, in order of first mention


@dataclass(frozen=True)
class Story:
    characters: tuple[tuple[str, str], ...]  # (name, description) in definition order
    panels: tuple[Panel, ...]
    identity: tuple[tuple[str, tuple[int, ...]], ...]  # character -> indices of its identity panels, definition order
    id_length: int

    def identity_of(self, name: str) -> tuple[int, ...]:
        """The panel indices of ``name``'s identity images; () for a character no panel names."""
        for character, indices in self.identity:
            if character == name:
                return indices
        if any(character == name for character, _ in self.characters):
            return ()
        raise KeyError(f"{name!r} is not a character of this story; its characters are {_names(self.characters)}.")

    @property
    def identity_panels(self) -> frozenset[int]:
        return frozenset(index for _, indices in self.identity for index in indices)

    def writer_of(self, panel_index: int) -> str | None:
        """The character whose identity image panel ``panel_index`` is (it writes that bank), else None."""
        self._check_index(panel_index)
        return next((character for character, indices in self.identity if panel_index in indices), None)

    def reads(self, panel_index: int) -> tuple[str, ...]:
        """The characters whose banks panel ``panel_index`` reads: those it names, or () for an identity panel."""
        self._check_index(panel_index)
        if panel_index in self.identity_panels:
            return ()
        # Every named character has identity images (parse_story refuses the rest).
        return self.panels[panel_index].characters

    @property
    def readers(self) -> tuple[tuple[str, ...], ...]:
        """``reads`` of every panel, in story order."""
        return tuple(self.reads(index) for index in range(len(self.panels)))

    @property
    def generation_order(self) -> tuple[int, ...]:
        """The reference's order: each character's identity batch (definition order), then the other panels in story order."""
        writers = [index for _, indices in self.identity for index in indices]
        return (*writers, *(index for index in range(len(self.panels)) if index not in self.identity_panels))

    @property
    def prompts(self) -> tuple[str, ...]:
        return tuple(panel.prompt for panel in self.panels)

    @property
    def captions(self) -> tuple[str, ...]:
        return tuple(panel.caption for panel in self.panels)

    def _check_index(self, panel_index: int) -> None:
        if not 0 <= panel_index < len(self.panels):
            raise IndexError(f"Panel index {panel_index} is out of range: the story has {len(self.panels)} panels (0 to {len(self.panels) - 1}).")


def parse_story(characters_text: str, story_text: str, id_length: int) -> Story:
    """The story of ``story_text`` with the characters of ``characters_text`` and ``id_length`` identity images each."""
    if isinstance(id_length, bool) or not isinstance(id_length, int) or id_length < 1:
        raise StoryError(f"id_length is {id_length!r}, but each character needs at least 1 identity image; "
                         "set id_length to a whole number of 1 or more (the reference offers 1 to 4).")
    characters = _parse_characters(characters_text)
    descriptions = dict(characters)
    panels = []
    for number, line in enumerate(story_text.splitlines(), start=1):
        if line.strip():
            panels.append(_parse_panel(number, line, descriptions, is_identity_slot=len(panels) < id_length, id_length=id_length))
    if not panels:
        raise StoryError("The story text has no panels; write one panel per line, for example "
                         "'[Bob] reads a newspaper at home #Bob finds a map'.")
    identity = tuple((name, _identity_panels(name, panels, id_length)) for name, _ in characters
                     if any(name in panel.characters for panel in panels))
    return Story(characters=characters, panels=tuple(panels), identity=identity, id_length=id_length)


def _parse_characters(text: str) -> tuple[tuple[str, str], ...]:
    lines: dict[str, int] = {}
    characters = []
    for number, line in enumerate(text.splitlines(), start=1):
        definition = line.partition("#")[0].strip()
        if not definition:
            continue
        where = f"Characters line {number} ({line.strip()!r})"
        match = _CHARACTER_LINE.fullmatch(definition)
        if match is None:
            raise StoryError(f"{where} is not a character definition: each line must be '[Name] description'. "
                             "Write it as, for example, '[Bob] a man wearing a black suit', or remove the line.")
        name, description = match.group(1).strip(), _tidy(match.group(2))
        if not name:
            raise StoryError(f"{where} has an empty name '[]'; write the character's name between the brackets.")
        if name == NO_CHARACTER:
            raise StoryError(f"{where} defines [{NO_CHARACTER}], but [{NO_CHARACTER}] is reserved for panels with no character; "
                             "give the character another name.")
        if name in lines:
            raise StoryError(f"{where} defines [{name}] again (first defined on characters line {lines[name]}); "
                             "each name may be defined once, so remove one definition or rename it.")
        if not description:
            raise StoryError(f"{where} gives [{name}] no description; write what the character looks like after the name.")
        if "[" in description or "]" in description:
            raise StoryError(f"{where} has a bracket in the description of [{name}]; a description cannot name characters, "
                             "so write it out in plain words without '[' or ']'.")
        lines[name] = number
        characters.append((name, description))
    return tuple(characters)


def _parse_panel(number: int, line: str, descriptions: dict[str, str], is_identity_slot: bool, id_length: int) -> Panel:
    where = f"Story line {number} ({line.strip()!r})"
    text, _, caption = line.partition("#")
    named: list[str] = []
    no_character = False
    for match in _TOKEN.finditer(text):
        name = match.group(1).strip()
        if name == NO_CHARACTER:
            no_character = True
        elif name in descriptions:
            if name not in named:
                named.append(name)
        else:
            known = f"the defined characters are {_names(descriptions.items())}" if descriptions else "no characters are defined"
            raise StoryError(f"{where} names [{name}], which is not a defined character ({known}); "
                             f"correct the name, or define it in the characters text as '[{name}] description'.")
    if no_character and named:
        raise StoryError(f"{where} uses [{NO_CHARACTER}] (no character) and also names {', '.join(named)}; "
                         f"a panel either has no character or names its characters, so remove [{NO_CHARACTER}] or the names.")
    if no_character and is_identity_slot:
        raise StoryError(f"{where} uses [{NO_CHARACTER}] among the first {id_length} panels (id_length {id_length}), "
                         f"which StoryDiffusion keeps for character panels; move this panel later in the story or lower id_length.")
    prompt = _tidy(_substitute(text, lambda name: descriptions.get(name)))
    if "[" in prompt or "]" in prompt:
        raise StoryError(f"{where} has an unmatched '[' or ']'; write a character as '[Name]' and use no other brackets in a prompt.")
    if not prompt:
        raise StoryError(f"{where} has no prompt text before its caption; describe the scene, for example '[NC] a house in the forest'.")
    caption_text = _tidy(_substitute(caption, lambda name: name if name in descriptions else None))
    return Panel(line=number, prompt=prompt, caption=caption_text, characters=tuple(named))


def _identity_panels(name: str, panels: list[Panel], id_length: int) -> tuple[int, ...]:
    alone = [index for index, panel in enumerate(panels) if panel.characters == (name,)]
    if len(alone) < id_length:
        first = next(panel.line for panel in panels if name in panel.characters)
        lines = f"story line{'s' if len(alone) > 1 else ''} {', '.join(str(panels[index].line) for index in alone)}" if alone else "none"
        lower = f", or lower id_length to {len(alone)}" if alone else ""
        raise StoryError(f"Story line {first} names [{name}], but only {len(alone)} panel(s) name [{name}] alone ({lines}); "
                         f"its identity images are the first id_length = {id_length} such panels. "
                         f"Add {id_length - len(alone)} more panel(s) naming only [{name}]{lower}.")
    return tuple(alone[:id_length])


def _substitute(text: str, replacement: Callable[[str], str | None]) -> str:
    """``text`` with each [Name] token replaced (None keeps the token) and [NC] removed; spaces keep words apart."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        value = "" if name == NO_CHARACTER else replacement(name)
        if value is None:
            return match.group(0)
        # '[Bob]and' must not glue the description to the next word; _tidy drops the extra spaces.
        before = " " if match.start() > 0 and text[match.start() - 1].isalnum() else ""
        after = " " if match.end() < len(text) and text[match.end()].isalnum() else ""
        return f"{before}{value}{after}"

    return _TOKEN.sub(replace, text)


def _tidy(text: str) -> str:
    """Single spaces, none before punctuation, no leading or trailing commas (left by a removed [NC])."""
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split())).strip(" ,")


def _names(characters: Iterable[tuple[str, str]]) -> str:
    return ", ".join(name for name, _ in characters)
