from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class InvitationForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    id_kind = RadioField(
        _l("Identify yourself by"),
        default="national",
        choices=[
            SelectChoice("national", _l("Thai national ID")),
            SelectChoice("passport", _l("Passport (foreign staff)")),
        ],
    )
    national_id = StringField(_l("National ID (13 digits)"), validators=[Length(max=13)])
    passport_number = StringField(_l("Passport number"), validators=[Length(max=20)])
    nationality = StringField(
        _l("Nationality (2-letter code, e.g. JP)"), validators=[Length(max=2)]
    )
