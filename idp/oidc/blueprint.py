from flask import Blueprint, current_app

bp = Blueprint("oidc", __name__)


def server():
    """The app's Authlib AuthorizationServer."""
    return current_app.extensions["idp_oauth_server"]
