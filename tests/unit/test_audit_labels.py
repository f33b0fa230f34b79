"""The audit trail speaks in labels (issue 9 "Language"): every tag the code emits has a
translated label, every detail it records has a name, and every fixed before/after
value a label. The tags, details and values are found by reading the source (every
``AuditTag.X`` and every ``record(...)`` call), so a new audit record without labels
fails here rather than showing a code in the consoles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from idp import audit_labels
from idp.audit import AuditTag

IDP = Path(__file__).resolve().parents[2] / "idp"
# Recorded by record() itself or shown in their own columns, not as details.
NOT_DETAILS = {"actor", "subject", "org", "before", "after"}


def _trees():
    for path in sorted(IDP.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(), str(path))


def _tag_refs(node: ast.AST) -> list[str]:
    return [
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == "AuditTag"
    ]


def _record_calls():
    """(path, call, tag names) for every call of ``record`` / ``audit.record``; a tag
    passed in a variable counts as every AuditTag its function names."""
    for path, tree in _trees():
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    # idp.enrollment.verdicts.record stores a verifier's answer, not audit.
                    of_verdicts = path.name == "verdicts.py" or (
                        getattr(getattr(node.func, "value", None), "id", None) == "verdicts"
                    )
                    if name == "record" and len(node.args) >= 2 and not of_verdicts:
                        tag = node.args[1]
                        names = _tag_refs(func if isinstance(tag, ast.Name) else tag)
                        yield path, node, names


def emitted_tags() -> set[str]:
    """Every AuditTag member the code refers to outside the tag and label modules."""
    skip = {IDP / "audit.py", IDP / "audit_labels.py"}
    return {
        AuditTag[name].value
        for path, tree in _trees()
        if path not in skip
        for name in _tag_refs(tree)
    }


def test_the_source_scan_finds_the_audit_calls():
    calls = list(_record_calls())
    assert len(calls) >= 30 and all(names for _path, _call, names in calls)
    assert {"org:scope:granted", "op:user:email_changed", "mfa:totp:enrolled"} <= emitted_tags()


def test_every_emitted_tag_has_a_label():
    labels = audit_labels.action_labels()
    assert sorted(t for t in emitted_tags() if t not in labels) == []


def test_every_declared_tag_has_a_label_and_labels_differ():
    labels = audit_labels.action_labels()
    assert sorted(t.value for t in AuditTag if t.value not in labels) == []
    assert len(set(labels.values())) == len(labels)  # two actions never read alike
    assert all(label != tag for tag, label in labels.items())


def test_audit_records_name_their_tag_by_the_enum():
    """A string literal tag would escape the catalogue (and the enum)."""
    literal = [
        f"{path.name}:{call.lineno}"
        for path, call, _names in _record_calls()
        if isinstance(call.args[1], ast.Constant)
    ]
    assert literal == []


def test_every_recorded_detail_has_a_name():
    names = audit_labels.detail_labels()
    unnamed = {
        f"{path.name}:{kw.arg}"
        for path, call, _names in _record_calls()
        for kw in call.keywords
        if kw.arg and kw.arg not in NOT_DETAILS and kw.arg not in names
    }
    assert sorted(unnamed) == []


def test_every_fixed_value_has_a_label():
    """Literal before/after/reason values (``"held"``, ``"renewed"``) read as words
    (None reads as a dash)."""
    unlabelled = []
    for path, call, tags in _record_calls():
        for kw in call.keywords:
            value = kw.value.value if isinstance(kw.value, ast.Constant) else None
            if kw.arg in ("before", "after", "reason") and value is not None:
                for name in tags:
                    tag = AuditTag[name].value
                    if not audit_labels.is_labelled(tag, kw.arg, value):
                        unlabelled.append(f"{path.name}:{call.lineno} {tag} {value}")
    assert unlabelled == []


@pytest.mark.parametrize(
    ("tag", "details", "expected"),
    [
        (
            "op:org:status",
            {"org": 1, "before": "pending", "after": "active"},
            "pending approval → active",
        ),
        ("op:org:member_limit", {"before": 10, "after": 20}, "Member limit: 10 → 20"),
        (
            "org:scope:granted",
            {"scope": "einvoice:submit", "before": "not held", "after": "held"},
            "not held → held; Right: einvoice:submit",
        ),
        (
            "op:user:active",
            {"before": True, "after": False, "reason": "compromised"},
            "active → disabled; Reason: Account may be compromised",
        ),
        (
            "op:user:operator",
            {"before": False, "after": True, "via": "cli"},
            "not an operator → platform operator; Through: the command line",
        ),
        (
            "mfa:factor:revoked",
            {"factor": 3, "reason": "lost_device"},
            "Factor number: 3; Reason: Lost device",
        ),
        (
            "op:org:created",
            {"before": None, "after": {"identifier": "MOC-01", "member_limit": 10}},
            "Identifier: MOC-01; Member limit: 10",
        ),
        (
            "op:scope:changed",
            {
                "before": {"seat_limit": None, "min_acr": "urn:idp:acr:pwd"},
                "after": {"seat_limit": 3, "min_acr": "urn:idp:acr:pwd"},
            },
            "Seats per organisation: no limit → 3",
        ),
        (
            "org:profile:changed",
            {
                "before": {"head_office": {"postcode": ""}, "branches": []},
                "after": {"head_office": {"postcode": "10110"}, "branches": ["Chiang Mai"]},
            },
            "Head office · Postcode: — → 10110; Branches: — → Chiang Mai",
        ),
        (
            "op:org:clients",
            {"before": {"rp1": None}, "after": {"rp1": ["a:b"], "rp2": None}},
            "rp1: all its rights → a:b; rp2: not allowed → all its rights",
        ),
        ("org:member:removed", {"before": {"role": "admin"}, "after": None}, "Role: admin → —"),
        ("some:old:tag", {"before": "x", "after": "y", "colour": "red"}, "x → y; colour: red"),
    ],
)
def test_summary_reads_as_words(tag, details, expected):
    assert audit_labels.summary(details, tag) == expected


def test_unknown_tag_keeps_its_code():
    assert audit_labels.action_label("some:old:tag") == "some:old:tag"
    assert audit_labels.action_label("org:scope:granted") == "Right granted"


def test_org_trail_filter_offers_every_action_filed_under_an_organisation():
    """The org console's action dropdown lists every tag recorded with ``org=``."""
    from idp.orgs.console import ORG_TRAIL_TAGS

    filed = {
        AuditTag[name].value
        for _path, call, names in _record_calls()
        if any(kw.arg == "org" for kw in call.keywords)
        for name in names
    }
    assert sorted(filed - {t.value for t in ORG_TRAIL_TAGS}) == []
