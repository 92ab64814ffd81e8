"""Phone numbers compare by what they dial, not by how they were typed."""

from __future__ import annotations

import pytest

from softphone import phone


@pytest.mark.parametrize(
    "typed",
    [
        "(650) 450-8810",
        "650.450.8810",
        "+1 650 450 8810",
        "650-450-8810 x204",
        "16504508810",
        "+1 (650) 450-8810 ext. 12",
        "1 (650) 450-8810",
    ],
)
def test_us_formats_normalise_to_one_e164(typed: str) -> None:
    """Every way of typing a US number (with or without extension) gives the same E.164."""
    assert phone.to_e164(typed, "US") == "+16504508810"


def test_national_number_uses_default_region() -> None:
    """A UK number typed nationally is read in the configured region."""
    assert phone.to_e164("020 7946 0958", "GB") == "+442079460958"
    assert phone.same_number("020 7946 0958", "+44 20 7946 0958", "GB")


def test_extensions_and_garbage_are_not_public_numbers() -> None:
    """Short internal extensions and text never turn into E.164 numbers."""
    assert phone.to_e164("2001", "US") is None
    assert phone.to_e164("anonymous", "US") is None
    assert phone.to_e164("", "US") is None


def test_search_variants_cover_e164_and_national() -> None:
    """A search looks for the number with and without its country code."""
    assert phone.search_variants("+16504508810", "US") == ("16504508810", "6504508810")
    assert phone.search_variants("2001", "US") == ("2001",)
    assert phone.search_variants("", "US") == ()


def test_same_number_ignores_format_but_not_digits() -> None:
    """Formatting never matters; a different last digit always does."""
    assert phone.same_number("(650) 450-8810", "+16504508810", "US")
    assert not phone.same_number("(650) 450-8811", "+16504508810", "US")
    assert phone.same_number("2001", "2001", "US")
    assert not phone.same_number("", "", "US")


def test_mask_keeps_only_last_four_digits() -> None:
    """Logged numbers show the last four digits only."""
    assert phone.mask("+1 650 450 8810") == "*******8810"
    assert phone.mask("123") == "***"


def test_display_is_international_for_public_numbers() -> None:
    """The page shows public numbers in international format and extensions as given."""
    assert phone.display("6504508810", "US") == "+1 650-450-8810"
    assert phone.display("2001", "US") == "2001"
