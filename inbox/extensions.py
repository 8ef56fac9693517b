"""Flask extensions, created unbound and attached to the app in create_app()."""

from typing import Any, cast

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import CursorResult, MetaData, Result
from sqlalchemy.orm import DeclarativeBase

from inbox import database


class Base(DeclarativeBase):
    """Declarative base with constraint names that Alembic can diff on every database."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


# Its sessions send a webhook's statements to the webhooks' own pool (inbox/database.py).
db = SQLAlchemy(model_class=Base, session_options={"class_": database.Session})
migrate = Migrate()
socketio = SocketIO()
login_manager = LoginManager()
csrf = CSRFProtect()


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an UPDATE or DELETE matched: Session.execute is typed as returning Result, though for DML
    it is always a CursorResult (a SQLAlchemy typing gap)."""
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount
