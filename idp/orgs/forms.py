from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

# Our own texts: WTForms' built-in validator messages come from its catalogue, which has
# no Thai, and the page's error summary shows them.
_REQUIRED = _l("Fill in this field.")
_TOO_LONG = _l("This is too long.")


class InvitationForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(_REQUIRED), Length(max=64, message=_TOO_LONG)],
    )
    name = StringField(
        _l("Full name"),
        validators=[DataRequired(_REQUIRED), Length(max=200, message=_TOO_LONG)],
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_REQUIRED), Length(max=128, message=_TOO_LONG)],
    )
    id_kind = RadioField(
        _l("Identify yourself by"),
        default="national",
        choices=[
            SelectChoice("national", _l("Thai national ID")),
            SelectChoice("passport", _l("Passport (foreign staff)")),
        ],
    )
    national_id = StringField(
        _l("National ID (13 digits)"), validators=[Length(max=13, message=_TOO_LONG)]
    )
    passport_number = StringField(
        _l("Passport number"), validators=[Length(max=20, message=_TOO_LONG)]
    )
    nationality = StringField(
        _l("Nationality (2-letter code, e.g. JP)"),
        validators=[Length(max=2, message=_TOO_LONG)],
    )
