from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class SigningKey(Base):
    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Set at rotation: the key stops signing, and stays in JWKS until retire_after.
    rotated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    retire_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
