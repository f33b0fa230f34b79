from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from idp.mfa.messages import default_factor_names


class CodeForm(FlaskForm):
    method = HiddenField(validators=[DataRequired()])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])


class EnrolForm(FlaskForm):
    name = StringField(
        _l("Name for this authenticator"),
        default=lambda: default_factor_names()["totp"],
        validators=[Length(max=64)],
    )


class RenameForm(FlaskForm):
    name = StringField(_l("New name"), validators=[DataRequired(), Length(max=64)])


class RevokeForm(FlaskForm):
    reason = SelectField(
        _l("Reason"),
        choices=[
            SelectChoice("name_change", _l("Name change")),
            SelectChoice("new_phone", _l("New phone")),
            SelectChoice("lost_device", _l("Lost device")),
            SelectChoice("other", _l("Other")),
        ],
    )
