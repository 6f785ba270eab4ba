"""Colour themes and the cockpit's stylesheet.

Rules in the .tcss files use only Textual's theme variables ($success, $error, $panel …), so
every registered theme — and the built-in ones a captain may pick from the palette — styles
the cockpit without a missing variable. Status is never colour alone: widgets also draw a
symbol and a word, so NO_COLOR (Textual's monochrome filter) stays readable.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).with_name("cockpit.tcss")

DARK = Theme(
    name="shipdeck-dark",
    primary="#4C9EEB",
    secondary="#7A8BA6",
    accent="#E0A24A",
    warning="#E6B450",
    error="#F0524F",
    success="#5BC27A",
    foreground="#D8DEE9",
    background="#14171C",
    surface="#1C2027",
    panel="#262C35",
    dark=True,
)

LIGHT = Theme(
    name="shipdeck-light",
    primary="#1F5FAF",
    secondary="#55657D",
    accent="#9A5B00",
    warning="#8F6200",
    error="#C01D1A",
    success="#1D7A3A",
    foreground="#1B1F24",
    background="#F7F8FA",
    surface="#EDEFF3",
    panel="#DDE2EA",
    dark=False,
)

# Pure colours at the ends of the range, for low-vision captains and washed-out projectors.
HIGH_CONTRAST = Theme(
    name="shipdeck-high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF80FF",
    warning="#FFFF00",
    error="#FF3030",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    dark=True,
    luminosity_spread=0.3,
    text_alpha=1.0,
    # The default cursor is the primary colour (yellow), under which the status colours of
    # the row it sits on fade to ~3:1. Navy keeps every status colour above 4:1 and the
    # underline marks the row even where navy and black look alike.
    variables={
        "block-cursor-background": "#000080",
        "block-cursor-foreground": "#FFFFFF",
        "block-cursor-text-style": "bold underline",
        "block-cursor-blurred-background": "#000050",
    },
)

THEMES: tuple[Theme, ...] = (DARK, LIGHT, HIGH_CONTRAST)
DEFAULT_THEME = DARK.name
THEME_ALIASES = {"dark": DARK.name, "light": LIGHT.name, "high-contrast": HIGH_CONTRAST.name}


def theme_name(alias: str | None) -> str:
    """The registered theme for `alias` ("dark", "light", "high-contrast" or a full name)."""
    if not alias:
        return DEFAULT_THEME
    return THEME_ALIASES.get(alias, alias)
