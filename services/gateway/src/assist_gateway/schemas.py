"""Request and response bodies of the public API (CONTRACT.md §2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

Scope = Literal["view", "control"]
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _consent_given(value: Any) -> bool:
    # Consent is the JSON boolean true and nothing else: pydantic's lax bool would read "yes", "on", "1", 1
    # or 1.0 as a consent the customer never gave.
    if value is not True:
        raise PydanticCustomError(
            "consent_not_given", "must be true (the JSON boolean): we help only with your consent"
        )
    return value


ConsentGiven = Annotated[bool, BeforeValidator(_consent_given)]


class CustomerIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254, pattern=_EMAIL)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50, pattern=r"^[0-9+()\-. /]*$")


class ConsentIn(BaseModel):
    accepted: ConsentGiven
    terms_version: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(max_length=2)

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[str]) -> list[str]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("scopes must not repeat")
        return scopes


class HelpRequestIn(BaseModel):
    customer: CustomerIn
    service_type: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=4000)
    consent: ConsentIn


class HelpRequestOut(BaseModel):
    session_id: str
    session_code: str
    customer_token: str
    status: str
    expires_at: str


class EndedOut(BaseModel):
    status: Literal["ended"] = "ended"
    ended_by: str


class ClaimedOut(BaseModel):
    session_id: str
    status: str
    consultant: str | None
