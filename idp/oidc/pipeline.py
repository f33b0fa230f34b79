"""The sign-in pipeline (pure): what an authorization request needs before a code is
issued, as one ordered table of steps.

Each step is a check over the request, the flow and what the session has proven; it
answers "satisfied" or "go to <named page>" (``interaction.Next``), or an OAuth error
for the relying party. /authorize parses the request, gathers a ``Context``
(``oidc.signin``), runs this table and redirects; it decides nothing itself.
``prompt=none`` turns every "go to" into its error (OIDC Core 3.1.2.6).

    authenticate     no session, prompt=login, max_age, id_token_hint for another
                     person                                      -> LOGIN | login_required
    membership       issue 10: a temporary membership past its date, a staff review
                     pending or rejected (R-05), or less than the client requires
                     (verified, staff_verified)     -> MEMBERSHIP | interaction_required
    password_change  issue 11 (MISSION B2): an account made by an operator or flagged
                     must choose its own password first
                                           -> PASSWORD_CHANGE | interaction_required
    terms            issue 10: the newest personal-data notice not yet accepted
                                                    -> TERMS | interaction_required
    step_up          mfa.policy: password again / second factor / enrolment
                     -> LOGIN | SECOND_FACTOR | ENROL | interaction_required,
                     an unmet essential acr                      -> access_denied
    organisation     several organisations                       -> SELECT_ORG
                                                                 | account_selection_required
                     none, or no right in it -> the no-access page | access_denied
    consent          missing or prompt=consent                   -> CONSENT | consent_required
    issue            a code with auth_time, acr, amr, the organisation and its scopes

The reserved steps are the extension point for the next issues: a step is a function
of ``Context`` returning an ``Outcome``; add its inputs to ``Context`` (gathered in
``oidc.signin``), its page to ``interaction.Next`` and it to ``STEPS`` in order.
Nobody is asked to consent before they are fully authenticated for the client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from idp.enrollment import membership as members
from idp.mfa import policy
from idp.orgs.entitlements import OrgChoice, OrgFacts, choose_org


class Next(Enum):
    LOGIN = "login"
    SECOND_FACTOR = "second_factor"
    ENROL = "enrol"
    SELECT_ORG = "select_org"
    CONSENT = "consent"
    MEMBERSHIP = "membership"
    TERMS = "terms"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - a page name


# ``mfa.policy.Decision.next_step`` -> the page that obtains it ("deny" has none).
STEP_UP_NEXT = {
    "password": Next.LOGIN,
    "second_factor": Next.SECOND_FACTOR,
    "enrol": Next.ENROL,
}


@dataclass(frozen=True)
class StepUp:
    """What the second-factor pages must obtain: a level and the factor kinds that
    reach it (from ``mfa.policy.Decision``)."""

    required: str
    factors: tuple[str, ...]


@dataclass(frozen=True)
class SignInRequest:
    """What the authorization request demands (parsed and validated by the view)."""

    scopes: tuple[str, ...] = ()  # requested, in order
    prompts: frozenset[str] = frozenset()
    max_age: int | None = None
    hint_sub: str | None = None  # the ``sub`` of a valid id_token_hint
    acr_values: tuple[str, ...] = ()
    essential_acr: tuple[str, ...] | None = None

    @property
    def silent(self) -> bool:
        return "none" in self.prompts


@dataclass(frozen=True)
class Context:
    request: SignInRequest
    now: int
    user_sub: str | None = None
    factors: Mapping[str, int] = field(default_factory=dict)  # kind -> when proven
    enrolled: frozenset[str] = frozenset()  # second-factor kinds the person can use
    requirement: policy.Requirement = policy.Requirement()  # from mfa.requirements
    orgs: OrgFacts = OrgFacts(frozenset())
    skip_consent: bool = False
    consented_scopes: frozenset[str] | None = None  # None: no consent on record
    # This same flow already went through a step (its start, a choice, a consent):
    flow_started: int | None = None
    flow_org_id: int | None = None
    flow_consented: bool = False
    # Issue 10: the person's membership and what the client requires of it
    # (None | "verified" | "staff_verified"); the newest personal-data notice version
    # (None: none published) and the one the person accepted (None: never).
    membership: members.State | None = None
    required_membership: str | None = None
    notice_current: int | None = None
    notice_accepted: int | None = None
    # Issue 11: an operator made the account (or flagged it): the person must choose
    # their own password before any client gets a token (``User.must_change_password``).
    must_change_password: bool = False


@dataclass(frozen=True)
class Outcome:
    satisfied: bool
    goto: Next | None = None  # the page that can satisfy the step
    step_up: StepUp | None = None  # what the MFA pages must obtain (with goto)
    error: str | None = None  # an OAuth error for the relying party
    description: str = ""
    refused: OrgChoice | None = None  # show the no-access page
    reasons: tuple[str, ...] = ()
    value: Any = None  # what a satisfied step established


@dataclass(frozen=True)
class Issue:
    auth_time: int
    acr: str | None
    amr: tuple[str, ...]
    scope: tuple[str, ...]
    org_id: int | None


@dataclass(frozen=True)
class Result:
    step: str  # the step that stopped the sign-in, or "issue"
    outcome: Outcome | None = None
    issue: Issue | None = None


SATISFIED = Outcome(True)


def _interact(
    ctx: Context, goto: Next, error: str, description: str, reasons: tuple[str, ...], **kw: Any
) -> Outcome:
    if ctx.request.silent:
        return Outcome(False, error=error, description=description, reasons=reasons)
    return Outcome(False, goto=goto, reasons=reasons, **kw)


def authenticate(ctx: Context) -> Outcome:
    """OIDC Core 3.1.2.1 prompt=login, max_age, id_token_hint; a password entered
    within this flow satisfies prompt=login and max_age."""
    password_at = ctx.factors.get(policy.PASSWORD)
    if ctx.user_sub is None or password_at is None:
        reasons: tuple[str, ...] = ("no_session",)
    else:
        fresh_in_flow = ctx.flow_started is not None and password_at >= ctx.flow_started
        found = []
        if "login" in ctx.request.prompts and not fresh_in_flow:
            found.append("prompt_login")
        max_age = ctx.request.max_age
        if max_age is not None and ctx.now - password_at > max_age and not fresh_in_flow:
            found.append("max_age")
        if ctx.request.hint_sub is not None and ctx.request.hint_sub != ctx.user_sub:
            found.append("id_token_hint_mismatch")
        reasons = tuple(found)
    if not reasons:
        return SATISFIED
    return _interact(ctx, Next.LOGIN, "login_required", "The end-user must sign in.", reasons)


def membership_reason(state: members.State, required: str | None, now: int) -> str | None:
    """Why ``state`` does not let the person reach a client that requires
    ``required``: membership_expired | membership_pending | membership_rejected |
    membership_insufficient, or None when it does (``membership.meets``)."""
    if members.meets(state, required, now):
        return None
    if state.status is members.Status.EXPIRED or (
        state.status is members.Status.TEMPORARY and not members.may_get_tokens(state, now)
    ):
        return "membership_expired"
    if state.status is members.Status.PENDING:
        return "membership_pending"
    if state.status is members.Status.REJECTED:
        return "membership_rejected"
    return "membership_insufficient"


def membership(ctx: Context) -> Outcome:
    """Issue 10 (SECURITY.md R-05): no tokens before a membership allows them, and
    none for a client that requires more than the person has. The page explains and
    offers verification; ``prompt=none`` gets ``interaction_required`` (the person can
    act on it at the provider, OIDC Core 3.1.2.6)."""
    if ctx.user_sub is None or ctx.membership is None:
        return SATISFIED
    reason = membership_reason(ctx.membership, ctx.required_membership, ctx.now)
    if reason is None:
        return SATISFIED
    return _interact(
        ctx,
        Next.MEMBERSHIP,
        "interaction_required",
        "The end-user's membership does not allow this client.",
        (reason,),
    )


def password_change(ctx: Context) -> Outcome:
    """Issue 11 (MISSION B2): an account created by an operator (``idp users add``), or
    flagged by one, sets its own password before any client gets a token: the "choose a
    new password" page, then the flow goes on. ``prompt=none`` gets
    ``interaction_required`` (OIDC Core 3.1.2.6: the person must act at the provider).
    It comes after ``authenticate`` (the person proved the current password) and before
    ``terms`` and ``step_up``: the second factor, where asked, is asked after it."""
    if ctx.user_sub is None or not ctx.must_change_password:
        return SATISFIED
    return _interact(
        ctx,
        Next.PASSWORD_CHANGE,
        "interaction_required",
        "The end-user must choose a new password.",
        ("password_change_required",),
    )


def terms(ctx: Context) -> Outcome:
    """Issue 10 (PDPA): the person accepts the newest version of the personal-data
    notice once; never accepted (None) or an older version -> the notice page. Silent
    requests get ``interaction_required``: accepting a notice is not the consent to a
    client's request that ``consent_required`` and ``prompt=consent`` are about."""
    if ctx.user_sub is None or ctx.notice_current is None:
        return SATISFIED
    if ctx.notice_accepted is not None and ctx.notice_accepted >= ctx.notice_current:
        return SATISFIED
    reason = "notice_never_accepted" if ctx.notice_accepted is None else "notice_outdated"
    return _interact(
        ctx,
        Next.TERMS,
        "interaction_required",
        "The end-user must accept the personal-data notice.",
        (reason,),
    )


def step_up(ctx: Context) -> Outcome:
    """The step-up policy (``mfa.policy.decide``) over the built requirement."""
    decision = policy.decide(
        ctx.requirement, policy.SessionAuth(dict(ctx.factors), ctx.enrolled), ctx.now
    )
    if decision.satisfied:
        return Outcome(True, value=decision)
    if ctx.request.silent:
        return Outcome(
            False,
            error="interaction_required",
            description="A second factor is required.",
            reasons=decision.reasons,
        )
    if decision.next_step == "deny":
        return Outcome(
            False,
            error="access_denied",
            description=decision.description,
            reasons=decision.reasons,
        )
    return Outcome(
        False,
        goto=STEP_UP_NEXT[decision.next_step or "second_factor"],
        step_up=StepUp(decision.required, decision.factors),
        reasons=decision.reasons,
    )


def org_choice(ctx: Context) -> OrgChoice:
    """The organisation the person acts for and the scopes they would get there."""
    return choose_org(
        ctx.orgs,
        ctx.request.scopes,
        ctx.flow_org_id,
        use_remembered="select_account" not in ctx.request.prompts,
    )


def organisation(ctx: Context) -> Outcome:
    """Issue 4: the organisation the person acts for; ``prompt=select_account`` asks
    again, ignoring the remembered choice."""
    choice = org_choice(ctx)
    if choice.kind == "deny":
        if ctx.request.silent:
            return Outcome(False, error="access_denied", description="No entitlement.")
        return Outcome(False, refused=choice, reasons=("no_entitlement",))
    if choice.kind == "select":
        return _interact(
            ctx,
            Next.SELECT_ORG,
            "account_selection_required",
            "Choose an organisation.",
            ("several_organisations",),
        )
    return Outcome(True, value=choice)


def consent(ctx: Context) -> Outcome:
    """Consent covers what would be issued: for an organisation client only the rights
    held in the organisation acted for (the consent page lists exactly those)."""
    if ctx.skip_consent or ctx.flow_consented:
        return SATISFIED
    issued = set(org_choice(ctx).scope)
    if "consent" in ctx.request.prompts:
        reasons: tuple[str, ...] = ("prompt_consent",)
    elif ctx.consented_scopes is None or not issued <= ctx.consented_scopes:
        reasons = ("consent_missing",)
    else:
        return SATISFIED
    return _interact(ctx, Next.CONSENT, "consent_required", "The end-user must consent.", reasons)


@dataclass(frozen=True)
class Step:
    name: str
    check: Callable[[Context], Outcome]


STEPS: tuple[Step, ...] = (
    Step("authenticate", authenticate),
    Step("membership", membership),
    Step("password_change", password_change),
    Step("terms", terms),
    Step("step_up", step_up),
    Step("organisation", organisation),
    Step("consent", consent),
)
ISSUE = "issue"


def run(ctx: Context) -> Result:
    """The first step that is not satisfied, or what to issue when all are."""
    values: dict[str, Any] = {}
    for step in STEPS:
        outcome = step.check(ctx)
        if not outcome.satisfied:
            return Result(step.name, outcome)
        values[step.name] = outcome.value
    decision: policy.Decision = values["step_up"]
    choice: OrgChoice = values["organisation"]
    return Result(
        ISSUE,
        issue=Issue(
            auth_time=decision.auth_time or ctx.now,
            acr=decision.acr,
            amr=decision.amr,
            scope=choice.scope,
            org_id=choice.org_id,
        ),
    )
