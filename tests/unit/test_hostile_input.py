"""Hostile input against every form parser: a clear refusal (Invalid) or a clean value."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.domain import accounts, consent, partners, requests
from portal.domain.errors import Invalid
from portal.i18n import choose_language
from portal.pages.public import safe_next
from portal.security.password_policy import password_problem

# Anything a forged form could hold: any text, control characters, huge values, odd numbers.
HOSTILE = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x20), max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "9" * 400,
            "-1",
            "1e9",
            "NaN",
            "١٢",
            "\u202e",
            "\ufeff",
            "2010\x00",
            "0x10",
            "+5",
            "12.0",
            "a" * 5000,
        ]
    ),
)
TODAY = date(2026, 11, 23)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _clean(call: object) -> None:
    """Call; only Invalid may come out."""
    try:
        call()  # type: ignore[operator]
    except Invalid as refusal:
        assert refusal.field and refusal.message


@SETTINGS
@given(HOSTILE, HOSTILE, HOSTILE)
def test_who_asks(asker: str, month: str, year: str) -> None:
    _clean(lambda: requests.check_who(asker, month, year, TODAY))


@SETTINGS
@given(st.lists(HOSTILE, max_size=30), HOSTILE)
def test_themes_and_words(themes: list[str], words: str) -> None:
    _clean(lambda: requests.parse_themes(themes))
    _clean(lambda: requests.check_words(words))


@SETTINGS
@given(HOSTILE, HOSTILE, HOSTILE)
def test_contact(channel: str, details: str, hours: str) -> None:
    def call() -> None:
        _how, clean_details, clean_hours = requests.check_contact(channel, details, hours)
        assert len(clean_details) <= 200 and len(clean_hours) <= 200
        assert "\x00" not in clean_details + clean_hours

    _clean(call)


@SETTINGS
@given(HOSTILE, HOSTILE, HOSTILE)
def test_accounts(role: str, name: str, language: str) -> None:
    _clean(lambda: accounts.check_new_subject(role, name, language))
    _clean(lambda: accounts.check_login(name))


@SETTINGS
@given(HOSTILE, st.booleans(), st.lists(HOSTILE, max_size=3))
def test_passwords(password: str, sole: bool, context: list[str]) -> None:
    problem = password_problem(password, sole_factor=sole, context=context)
    assert problem is None or isinstance(problem, str)


@SETTINGS
@given(st.lists(HOSTILE, max_size=12), HOSTILE, HOSTILE)
def test_consent_choices(categories: list[str], duration: str, purpose: str) -> None:
    _clean(lambda: consent.parse_categories(categories))
    _clean(lambda: consent.check_duration(duration))
    _clean(lambda: consent.check_purpose(purpose))


@SETTINGS
@given(HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE)
def test_partner_directory(
    name: str, sector: str, communes: str, ethics: str, description: str, contact: str
) -> None:
    form = partners.PartnerForm(
        name, sector, communes, True, ethics, False, description, contact, True
    )
    _clean(lambda: partners._check(form))


@SETTINGS
@given(HOSTILE, HOSTILE)
def test_language_and_return_address(cookie: str, target: str) -> None:
    assert choose_language(cookie, cookie, "fr") in {"fr", "nl", "en"}
    back = safe_next(target)
    assert back.startswith("/") and not back.startswith("//") and "\\" not in back


@SETTINGS
@given(HOSTILE)
def test_recovery_codes(code: str) -> None:
    normalised = accounts.normalise_code(code)
    assert normalised == "" or len(normalised) == 14


@SETTINGS
@given(HOSTILE)
def test_csrf_tokens(supplied: str) -> None:
    from portal.security.csrf import same_token, token_for

    expected = token_for("k" * 40, "b" * 43)
    assert same_token(supplied, expected) is (supplied == expected)
    assert same_token(expected, expected)


@SETTINGS
@given(HOSTILE, st.lists(st.binary(max_size=30), max_size=3))
def test_ids_lengths_and_paths(value: str, lengths: list[bytes]) -> None:
    from portal.pages.common import as_id, ids_of
    from portal.security.bodylimit import declared_length
    from portal.security.requestline import MAX_ID, beyond_ids

    found = as_id(value)
    assert found is None or 0 < found <= MAX_ID
    assert all(0 < i <= MAX_ID for i in ids_of([value, value, 5, None]))
    length = declared_length({"headers": [(b"content-length", v) for v in lengths]})
    assert length is None or length >= -1
    assert isinstance(beyond_ids("/" + value), bool)
