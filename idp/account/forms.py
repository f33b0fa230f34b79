from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

# The sign-in form's and the forgot-password form's first field.
IDENTIFIER_LABEL = _l("Username or email")


class LoginForm(FlaskForm):
    username = StringField(IDENTIFIER_LABEL, validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class PostForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state."""
