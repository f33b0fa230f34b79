"""The staff-directory verifier against a real OpenLDAP (slapd) with fixture staff
(MISSION C3; SECURITY.md X-01, X-03, X-06)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from datetime import date

import pytest

from idp.config import ConfigError, load_settings
from idp.enrollment import directory
from idp.enrollment.directory import DirectoryVerifier, search_filter
from idp.enrollment.identity import check_national_id, check_passport
from idp.enrollment.verifiers import ClaimedIdentity, Method, Outcome
from tests.ldap_server import MALEE_MAIL, SOMCHAI_ID, SOMCHAI_MAIL, free_port

NOW = 1_800_000_000
PASSPORT = check_passport("AA1234567", "GB", date(2031, 1, 1), date(2026, 12, 1))
PROD = {"secret_key": "p" * 40, "issuer": "https://idp.example", "allow_sqlite_in_production": True}


def _settings(ldap, **kw):
    values = {
        "directory_url": ldap.url,
        "directory_bind_dn": ldap.bind_dn,
        "directory_bind_password": ldap.bind_password,
        "directory_base_dn": ldap.base_dn,
        **kw,
    }
    return load_settings({}, values)


def _claim(national_id: str = "", email: str = "", agency: str = "moc-dit") -> ClaimedIdentity:
    return ClaimedIdentity(
        document=check_national_id(national_id) if national_id else None,
        email=email,
        agency=agency,
    )


def test_a_member_of_staff_is_found_by_national_id_with_what_the_directory_holds(
    ldap_directory,
):
    verdict = DirectoryVerifier(_settings(ldap_directory)).verify(_claim(SOMCHAI_ID), NOW)
    assert verdict.outcome is Outcome.VERIFIED and verdict.method is Method.DIRECTORY
    assert verdict.evidence_ref == "uid=somchai,ou=people,dc=moc,dc=example"
    assert verdict.evidence_type == "electronic_record" and verdict.at == NOW
    assert verdict.claims == {
        "given_name": "Somchai",
        "family_name": "Jaidee",
        "given_name#th": "สมชาย",
        "family_name#th": "ใจดี",
        "email": SOMCHAI_MAIL,
    }
    assert SOMCHAI_ID not in repr(verdict)  # no ID number in the evidence


def test_a_member_of_staff_is_found_by_email(ldap_directory):
    verdict = DirectoryVerifier(_settings(ldap_directory)).verify(_claim(email=MALEE_MAIL), NOW)
    assert verdict.verified and verdict.evidence_ref.startswith("uid=malee,")
    assert verdict.claims["email"] == MALEE_MAIL and "given_name#th" not in verdict.claims


def test_a_passport_holder_is_looked_up_by_email_only(ldap_directory):
    claim = ClaimedIdentity(document=PASSPORT, email=MALEE_MAIL, agency="x")
    settings = _settings(ldap_directory)
    assert DirectoryVerifier(settings).verify(claim, NOW).outcome is Outcome.NOT_VERIFIED
    claim = ClaimedIdentity(
        document=PASSPORT,
        email=MALEE_MAIL,
        agency="moc-dit",
    )
    assert DirectoryVerifier(settings).verify(claim, NOW).verified


def test_someone_not_in_the_directory_is_not_verified(ldap_directory):
    verifier = DirectoryVerifier(_settings(ldap_directory))
    verdict = verifier.verify(_claim("1103700456121", "nobody@moc.example"), NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.NOT_VERIFIED, "no_match")
    assert verdict.claims == {} and verdict.evidence_ref == ""


def test_an_id_and_an_email_of_two_different_people_prove_nothing(ldap_directory):
    verdict = DirectoryVerifier(_settings(ldap_directory)).verify(
        _claim(SOMCHAI_ID, MALEE_MAIL), NOW
    )
    assert (verdict.outcome, verdict.reason) == (Outcome.NOT_VERIFIED, "ambiguous")


@pytest.mark.parametrize(
    "email",
    ["*)(uid=*", "*", "(", "\x00", "somchai@moc.example)(mail=*", "*)(|(mail=*", "\\2a"],
)
def test_filter_syntax_in_the_email_is_a_value_not_a_filter_X01(ldap_directory, email):
    """SECURITY.md X-01: escaped, so no match and no error (an unescaped ``*`` would
    match every entry: "ambiguous" or a wrong VERIFIED)."""
    verdict = DirectoryVerifier(_settings(ldap_directory)).verify(_claim(email=email), NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.NOT_VERIFIED, "no_match")


def test_filter_syntax_in_the_national_id_is_escaped_X01(ldap_directory, monkeypatch):
    """A national ID passes its check digit first; the filter escapes it all the same."""
    verifier = DirectoryVerifier(_settings(ldap_directory))
    for value in ["*)(uid=*", "*", "(", "\x00"]:
        fake = check_national_id(SOMCHAI_ID).__class__(kind="national_id", number=value)
        verdict = verifier.verify(ClaimedIdentity(document=fake, agency="moc-dit"), NOW)
        assert (verdict.outcome, verdict.reason) == (Outcome.NOT_VERIFIED, "no_match"), value


def test_search_filter_escapes_every_value_X01():
    assert search_filter("(mail={email})", "", "*)(uid=*") == "(mail=\\2a\\29\\28uid=\\2a)"
    assert search_filter("(employeeNumber={national_id})", "\x00(", "") == (
        "(employeeNumber=\\00\\28)"
    )


def test_directory_down_is_unavailable_X03():
    port = free_port()  # closed again: nothing listens there
    settings = load_settings({}, {"directory_url": f"ldap://127.0.0.1:{port}"})
    verdict = DirectoryVerifier(settings).verify(_claim(SOMCHAI_ID), NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNAVAILABLE, "unreachable")


def test_a_silent_directory_is_cut_at_the_total_timeout_X03(monkeypatch):
    """A server that accepts and never answers holds the request only TOTAL_TIMEOUT."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setattr(directory, "TOTAL_TIMEOUT", 0.5)
    try:
        port = server.getsockname()[1]
        settings = load_settings({}, {"directory_url": f"ldap://127.0.0.1:{port}"})
        verdict = DirectoryVerifier(settings).verify(_claim(SOMCHAI_ID), NOW)
    finally:
        stop.set()
        thread.join()
        for s in held:
            s.close()
        server.close()
    assert verdict.outcome is Outcome.UNAVAILABLE and verdict.reason in ("timeout", "unreachable")


def test_a_wrong_bind_password_is_unavailable_and_never_logged_X01(ldap_directory, caplog):
    caplog.set_level(logging.DEBUG)
    settings = _settings(ldap_directory, directory_bind_password="wrong-Secret-9z")
    verdict = DirectoryVerifier(settings).verify(_claim(SOMCHAI_ID), NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNAVAILABLE, "bind_failed")
    assert "wrong-Secret-9z" not in caplog.text and "bind" in caplog.text


def test_the_bind_password_is_never_logged_on_success_X01(ldap_directory, caplog):
    caplog.set_level(logging.DEBUG)
    settings = _settings(ldap_directory)
    assert DirectoryVerifier(settings).verify(_claim(SOMCHAI_ID), NOW).verified
    assert ldap_directory.bind_password not in caplog.text
    assert SOMCHAI_ID not in caplog.text
    assert ldap_directory.bind_password not in repr(settings.directory_url)
    from idp.enrollment.agencies import find_agency

    assert ldap_directory.bind_password not in repr(find_agency(settings, "moc-dit"))


def test_an_agency_without_a_directory_is_not_applicable():
    verdict = DirectoryVerifier(load_settings({}, {})).verify(_claim(SOMCHAI_ID), NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.NOT_VERIFIED, "not_applicable")


def test_an_agency_entry_has_its_own_directory(ldap_directory, tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_TEST_DIT_LDAP_PW", ldap_directory.bind_password)
    path = tmp_path / "agencies.json"
    entry = {
        "url": ldap_directory.url,
        "bind_dn": ldap_directory.bind_dn,
        "bind_password_env": "IDP_TEST_DIT_LDAP_PW",
        "base_dn": ldap_directory.base_dn,
        "filter": "(&(objectClass=inetOrgPerson)(mail={email}))",
    }
    path.write_text(
        json.dumps(
            [
                {"code": "dit", "name_th": "กรมการค้าภายใน", "directory": entry},
                {"code": "other", "name_th": "อื่น"},
            ]
        )
    )
    settings = load_settings({}, {"agencies_file": str(path)})
    verifier = DirectoryVerifier(settings)
    assert verifier.verify(_claim(email=SOMCHAI_MAIL, agency="dit"), NOW).verified
    # The agency's filter looks at mail only: the ID alone does not match.
    assert not verifier.verify(_claim(SOMCHAI_ID, agency="dit"), NOW).verified
    other = verifier.verify(_claim(email=SOMCHAI_MAIL, agency="other"), NOW)
    assert other.reason == "not_applicable"


def test_production_refuses_plain_ldap_at_start_up_X01(ldap_directory):
    with pytest.raises(ConfigError, match="plain ldap://"):
        load_settings({}, {**PROD, "env": "production", "directory_url": ldap_directory.url})
    for allowed in ({"directory_allow_plain": True}, {"directory_start_tls": True}):
        load_settings(
            {}, {**PROD, "env": "production", "directory_url": ldap_directory.url, **allowed}
        )
    load_settings({}, {**PROD, "env": "production", "directory_url": "ldaps://dir.example"})


def test_production_refuses_plain_ldap_at_use_too_X01(ldap_directory):
    """Settings that skipped the start-up check (built by hand) are refused when used."""
    import dataclasses

    settings = dataclasses.replace(_settings(ldap_directory), env="production")
    verdict = DirectoryVerifier(settings).verify(_claim(SOMCHAI_ID), NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNAVAILABLE, "plain_refused")
    allowed = dataclasses.replace(settings, directory_allow_plain=True)
    assert DirectoryVerifier(allowed).verify(_claim(SOMCHAI_ID), NOW).verified


def test_start_tls_against_a_server_without_tls_is_unavailable(ldap_directory):
    settings = _settings(ldap_directory, directory_start_tls=True)
    verdict = DirectoryVerifier(settings).verify(_claim(SOMCHAI_ID), NOW)
    assert verdict.outcome is Outcome.UNAVAILABLE
