"""The password policy and the passphrases we suggest: try to get a weak password through."""

from __future__ import annotations

import re
import unicodedata

import pytest

from portal.security.passphrases import (
    SEPARATOR,
    passphrase_entropy_bits,
    suggest_passphrase,
    word_list,
)
from portal.security.password_policy import (
    MAX_LENGTH,
    MIN_SOLE_FACTOR,
    MIN_WITH_SECOND_FACTOR,
    common_passwords,
    password_problem,
)

# Fifteen characters of nothing common, repeated or sequential, cut to the length wanted.
PLAIN = "violet-kayak-moonbeam-otter-lagoon"


def plain(length: int) -> str:
    return (PLAIN * (length // len(PLAIN) + 1))[:length]


def test_the_lengths_are_those_of_nist() -> None:
    assert (MIN_SOLE_FACTOR, MIN_WITH_SECOND_FACTOR, MAX_LENGTH) == (15, 8, 256)


def test_fourteen_characters_are_too_few_when_the_password_is_the_only_factor() -> None:
    problem = password_problem(plain(14), sole_factor=True)
    assert problem is not None
    assert "15" in problem


def test_fifteen_characters_are_enough_when_the_password_is_the_only_factor() -> None:
    assert password_problem(plain(15), sole_factor=True) is None


def test_seven_characters_are_too_few_even_with_a_second_factor() -> None:
    problem = password_problem("vk-moon", sole_factor=False)
    assert problem is not None
    assert "8" in problem


def test_eight_characters_are_enough_with_a_second_factor() -> None:
    assert password_problem("vk-moon!", sole_factor=False) is None


def test_the_second_factor_does_not_lower_the_bar_for_a_sole_password() -> None:
    assert password_problem("vk-moon!", sole_factor=True) is not None


def test_256_characters_are_accepted_and_257_are_not() -> None:
    assert password_problem(plain(256), sole_factor=True) is None
    problem = password_problem(plain(257), sole_factor=True)
    assert problem is not None
    assert "256" in problem


def test_a_huge_password_is_refused_without_being_read_through() -> None:
    assert password_problem("é" * 1_000_000, sole_factor=True) is not None


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "Password123!",
        "PASSWORD",
        "azertyuiop",
        "Azertyuiop1",
        "motdepasse",
        "wachtwoord",
        "soleil2024",
        "bonjour!!",
        "iloveyou",
        "!!dragon!!",
        "superman",
        "monkeymonkeymonkey",
    ],
)
def test_a_common_password_is_refused(password: str) -> None:
    problem = password_problem(password, sole_factor=False)
    assert problem is not None
    assert "common" in problem


def test_a_common_password_made_long_with_digits_is_still_common() -> None:
    problem = password_problem("sunshine1234567890", sole_factor=True)
    assert problem is not None
    assert "common" in problem


def test_the_common_list_holds_the_classics_of_belgian_keyboards() -> None:
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"azerty", "azertyuiop", "motdepasse", "wachtwoord", "soleil", "bonjour"} <= common
    assert all(entry == entry.lower() and entry.strip() == entry for entry in common)


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaaaaaaa",
        "1111111111111111",
        "123456789012345",
        "987654321098765",
        "abcdefghijklmnop",
        "ponmlkjihgfedcba",
        "xyzabcdefghijklm",
        "qwertyuiopasdfgh",
        "azertyuiopqsdfgh",
        "hahahahahahahaha",
        "abcdabcdabcdabcd",
        "               ",
    ],
)
def test_a_repeated_character_or_a_simple_sequence_is_refused(password: str) -> None:
    assert password_problem(password, sole_factor=True) is not None


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "violet-kayak-moonbeam-otter-lagoon",
        "Mon chat aime les crêpes au sucre",
        "de fiets staat onder de kastanjeboom",
        "🦊🌙🚲🍓 et quatre emoji",
        "Ça ira, ça ira, ça ira",
        "Tr0ub4dor&3-but-much-longer",
    ],
)
def test_a_long_passphrase_is_accepted(password: str) -> None:
    assert password_problem(password, sole_factor=True) is None


def test_the_sign_in_name_inside_the_password_is_refused() -> None:
    problem = password_problem(
        "my name is Alice.Dupont and I like tea", sole_factor=True, context=["alice.dupont"]
    )
    assert problem is not None
    assert "sign-in name" in problem


def test_the_pseudonym_inside_the_password_is_refused_whatever_the_case() -> None:
    password = "the STARFOX flies over the lagoon"
    problem = password_problem(password, sole_factor=True, context=["jdoe", "StarFox"])
    assert problem is not None


def test_a_context_string_shorter_than_three_characters_is_ignored() -> None:
    password = "a quiet kayak under the moon"
    assert password_problem(password, sole_factor=True, context=["a", "qu", ""]) is None


@pytest.mark.parametrize("control", ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\u0085"])
def test_control_characters_are_refused(control: str) -> None:
    problem = password_problem(f"violet kayak{control}moonbeam otter", sole_factor=True)
    assert problem is not None
    assert "invisible" in problem


def test_a_lone_surrogate_is_refused() -> None:
    assert password_problem("violet kayak \ud800 moonbeam", sole_factor=True) is not None


def test_e_acute_counts_once_whether_typed_composed_or_decomposed() -> None:
    fourteen = "éléphant rêvé!"
    fifteen = "éléphant rêvé!!"
    assert (len(fourteen), len(fifteen)) == (14, 15)
    for password in (fourteen, fifteen):
        decomposed = unicodedata.normalize("NFD", password)
        assert len(decomposed) == len(password) + 4
        assert password_problem(decomposed, sole_factor=True) == password_problem(
            password, sole_factor=True
        )
    # Typed decomposed, fourteen letters are 18 code points: still too short.
    assert password_problem(unicodedata.normalize("NFD", fourteen), sole_factor=True)
    assert password_problem(unicodedata.normalize("NFD", fifteen), sole_factor=True) is None


def test_256_accented_letters_typed_decomposed_are_accepted() -> None:
    password = unicodedata.normalize("NFD", plain(250) + "éàèùçê")
    assert len(password) > MAX_LENGTH
    assert password_problem(password, sole_factor=True) is None


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_a_passphrase_has_five_words_of_the_right_list(language: str) -> None:
    passphrase = suggest_passphrase(language)
    words = passphrase.split(SEPARATOR)
    assert len(words) == 5
    assert set(words) <= set(word_list(language))


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_a_passphrase_is_accepted_by_the_policy(language: str) -> None:
    assert password_problem(suggest_passphrase(language), sole_factor=True) is None


def test_the_number_of_words_can_be_chosen() -> None:
    assert len(suggest_passphrase("nl", words=7).split(SEPARATOR)) == 7
    with pytest.raises(ValueError):
        suggest_passphrase("nl", words=0)


def test_an_unknown_language_falls_back_to_french() -> None:
    assert word_list("de") == word_list("fr")
    assert set(suggest_passphrase("xx").split(SEPARATOR)) <= set(word_list("fr"))


def test_two_suggestions_differ() -> None:
    # Two equal draws out of 2,000⁵ would happen once in 3·10¹⁶ runs.
    assert suggest_passphrase("fr") != suggest_passphrase("fr")


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_five_words_give_at_least_55_bits(language: str) -> None:
    assert len(word_list(language)) >= 2048
    assert passphrase_entropy_bits(language, 5) >= 55


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_the_words_are_easy_to_type(language: str) -> None:
    for word in word_list(language):
        assert re.fullmatch(r"[a-zàâçéèêëîïôûùüö]{3,9}", word), word
        assert unicodedata.normalize("NFC", word) == word


def test_the_lists_are_different_languages() -> None:
    assert "maison" in word_list("fr")
    assert "fiets" in word_list("nl")
    assert "apple" in word_list("en")
