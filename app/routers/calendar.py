"""Calendar feeds: HTTP in and out, nothing else.

`GET /calendar/{token}.ics` takes no Authorization header (calendar clients subscribe by URL):
the token in the path is the credential, and the access log shows the route, not the path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status

from app.deps import ClockDep, CurrentUser, RequestZone, SettingsDep, StoreDep
from app.routers.activities import SearchQuery, search_filters
from app.schemas.calendar import CalendarFeedCreate, CalendarFeedCreated, CalendarFeedList
from app.schemas.common import problem_responses
from app.services import calendar_feeds

router = APIRouter(prefix="/calendar", tags=["calendar"])

FeedId = Annotated[str, Path(max_length=64, description="Calendar feed id")]
FeedToken = Annotated[str, Path(max_length=256, description="The feed's secret token")]
ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
FEED_PATH = "/api/v1/calendar/"


@router.post(
    "/feeds", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422)
)
async def create_feed(
    payload: CalendarFeedCreate,
    request: Request,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
) -> CalendarFeedCreated:
    """Mint a secret calendar feed URL of activities (shown only in this answer)."""
    base = settings.public_base_url or str(request.base_url)
    return await calendar_feeds.create_feed(
        store,
        user,
        payload,
        tz=zone.key,
        url_base=base.rstrip("/") + FEED_PATH,
        now=clock.now(),
    )


@router.get("/feeds", responses=problem_responses(401, 403))
async def list_feeds(user: CurrentUser, store: StoreDep) -> CalendarFeedList:
    """My calendar feeds, newest first (without their URLs)."""
    return await calendar_feeds.list_feeds(store, user)


@router.delete(
    "/feeds/{feed_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def revoke_feed(
    feed_id: FeedId, user: CurrentUser, store: StoreDep, clock: ClockDep
) -> Response:
    """Revoke one of my feeds: its URL stops working at once."""
    await calendar_feeds.revoke_feed(store, user, feed_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{feed_token}.ics",
    response_class=Response,
    responses={
        200: {"description": "An RFC 5545 calendar", "content": {"text/calendar": {}}},
        304: {"description": "Unchanged since the ETag given in If-None-Match"},
        **problem_responses(404),
    },
)
async def read_feed(
    feed_token: FeedToken,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    if_none_match: Annotated[
        str | None, Header(max_length=1024, description="An ETag of this feed: 304 if unchanged")
    ] = None,
) -> Response:
    """The feed's calendar; no Authorization: the secret URL is the credential."""
    feed = await calendar_feeds.feed_for_token(store, feed_token)
    owner = calendar_feeds.feed_owner(feed)
    filters = search_filters(owner, SearchQuery.validate(feed["filters"]))
    etag, body = await calendar_feeds.render_feed(
        store, feed, filters, now=clock.now(), settings=settings
    )
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and etag in if_none_match:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    headers["Content-Disposition"] = 'inline; filename="activities.ics"'
    return Response(body, media_type=ICS_MEDIA_TYPE, headers=headers)
