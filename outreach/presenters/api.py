"""HTTP API for presenter invitations: thin, every rule lives in presenters.services."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from outreach.presenters import services
from outreach.presenters.schemas import AnswerIn, InvitationOut, InviteIn, PresenterStatus
from outreach.principal import Principal
from outreach.web import BEARER, READ_ERRORS, WRITE_ERRORS, IdPath

__all__ = ["EventPresenterController", "PresenterInvitationController"]


class EventPresenterController(Controller):
    path = "/api/v1/events/{evening_id:int}/presenters"
    tags = ["presenters"]

    @get("/", responses=READ_ERRORS)
    async def list_presenters(
        self, evening_id: IdPath, by: NamedDependency[Principal]
    ) -> list[InvitationOut]:
        """The hosting school and the office see every invitation; others the accepted firms."""
        return await services.invitations_for_event(evening_id, by=by)

    @post("/", responses=WRITE_ERRORS, security=BEARER)
    async def invite(
        self, evening_id: IdPath, data: JSONBody[InviteIn], by: NamedDependency[Principal]
    ) -> list[InvitationOut]:
        """The hosting school invites firms (slugs) to present at its parents' evening."""
        result = await services.invite_firms(evening_id, data, by=by)
        return [*result.invited, *result.unchanged]


class PresenterInvitationController(Controller):
    path = "/api/v1/presenter-invitations"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["presenters"]

    @get("/", responses=READ_ERRORS)
    async def list_invitations(
        self,
        by: NamedDependency[Principal],
        status: Annotated[PresenterStatus | None, QueryParameter()] = None,
    ) -> list[InvitationOut]:
        """A firm's invitations; a school's invitations out; all for the office."""
        return await services.list_invitations(by=by, status=status)

    @get("/{invitation_id:int}", responses=READ_ERRORS)
    async def get_invitation(
        self, invitation_id: IdPath, by: NamedDependency[Principal]
    ) -> InvitationOut:
        return await services.get_invitation(invitation_id, by=by)

    @post("/{invitation_id:int}/accept", status_code=200, responses=WRITE_ERRORS)
    async def accept(
        self, invitation_id: IdPath, data: JSONBody[AnswerIn], by: NamedDependency[Principal]
    ) -> InvitationOut:
        """The invited firm will present; the school is told."""
        return await services.accept(invitation_id, data.message, by=by)

    @post("/{invitation_id:int}/decline", status_code=200, responses=WRITE_ERRORS)
    async def decline(
        self, invitation_id: IdPath, data: JSONBody[AnswerIn], by: NamedDependency[Principal]
    ) -> InvitationOut:
        """The invited firm will not present; the school is told."""
        return await services.decline(invitation_id, data.message, by=by)

    @post("/{invitation_id:int}/withdraw", status_code=200, responses=WRITE_ERRORS)
    async def withdraw(
        self, invitation_id: IdPath, by: NamedDependency[Principal]
    ) -> InvitationOut:
        """The hosting school takes the invitation back; the firm is told."""
        return await services.withdraw(invitation_id, by=by)
