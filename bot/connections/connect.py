"""Connecting an accounting package: OAuth state, code exchange, choosing an organisation, disconnecting.

Plain Python over a session and a provider, so tests can call it without Slack. The Slack side
(`bot/listeners`, `bot/web.py`) turns its outcomes into messages and pages.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from bot import workspaces
from bot.connections.tokens import ConnectionTokens, store_tokens
from providers.base import BadRequest, Grant, Link, Organisation, Provider, ProviderError, Tokens
from storage.crypto import fingerprint
from storage.db import Database
from storage.models import Connection, ConnectionStatus, OAuthState, PendingConnection, Workspace
from storage.sync_pause import resume_syncs, stop_syncs

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
PICK_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class LoginLink:
    url: str
    expires_at: datetime


class CallbackKind(StrEnum):
    """How a log-in (or a pick from several organisations) ended; it picks the page and the Slack message."""

    PENDING = "pending"  # still going: the state was good
    CONNECTED = "connected"
    CHOOSE = "choose"  # several organisations: the person picks one in Slack
    CANCELLED = "cancelled"
    INVALID_STATE = "invalid_state"
    USED_STATE = "used_state"
    EXPIRED_STATE = "expired_state"
    PROVIDER_ERROR = "provider_error"
    CONFIGURATION = "configuration"  # the package refused our app's own settings: trying again can't help
    FORBIDDEN = "forbidden"  # someone else's pick


@dataclass
class CallbackOutcome:
    """What a provider's OAuth callback led to; `kind` picks the page and the Slack message."""

    kind: CallbackKind
    message: str
    team_id: str | None = None
    user_id: str | None = None
    channel_id: str | None = None
    connection_id: int | None = None
    pending_id: int | None = None
    organisations: list[Organisation] = field(default_factory=list)
    organisation_name: str | None = None
    replaced: list[int] = field(default_factory=list)
    reconnected: bool = False


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def version(connection: Connection) -> str:
    """Which making of a connection this is (`<id>:<connected at, in µs>`): reconnecting keeps the row but makes a
    new version, so a button shown for the old one can tell."""
    return f"{connection.id}:{round(connection.connected_at.timestamp() * 1_000_000)}"


_ACTIVE = (  # built once: read by most commands
    select(Connection)
    .where(Connection.workspace_id == bindparam("workspace_id"), Connection.status != ConnectionStatus.DISCONNECTED)
    .order_by(Connection.connected_at.desc())
)


def active_connection(session: Session, *, workspace_id: int) -> Connection | None:
    return session.scalar(_ACTIVE, {"workspace_id": workspace_id})


def begin(
    session: Session,
    db: Database,
    *,
    workspace_id: int,
    user_id: str,
    channel_id: str | None,
    provider: Provider,
    redirect_uri: str,
    now: datetime,
) -> LoginLink:
    """A log-in link whose state is random, single use, bound to workspace and user, and expires in 10 minutes."""
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    session.add(
        OAuthState(
            state_digest=fingerprint(state),
            purpose="connect",
            provider=provider.name,
            workspace_id=workspace_id,
            user_id=user_id,
            channel_id=channel_id,
            code_verifier_enc=db.box.encrypt(verifier),
            created_at=now,
            expires_at=now + STATE_TTL,
        )
    )
    url = provider.authorization_url(state=state, redirect_uri=redirect_uri, code_challenge=challenge)
    return LoginLink(url=url, expires_at=now + STATE_TTL)


def _claim_state(db: Database, *, provider: Provider, state: str, now: datetime) -> tuple[CallbackOutcome, str | None]:
    """Mark the state used, or say why it cannot be. Returns the outcome so far and the PKCE verifier."""
    with db.session(write_lock=True) as s:
        row = s.scalar(
            select(OAuthState)
            .where(OAuthState.state_digest == fingerprint(state), OAuthState.purpose == "connect")
            .with_for_update()
        )
        if row is None or row.provider != provider.name or row.workspace_id is None:
            return CallbackOutcome(
                CallbackKind.INVALID_STATE, "This log-in link is not one of ours, so nothing changed."
            ), None
        workspace = s.get(Workspace, row.workspace_id)
        assert workspace is not None
        outcome = CallbackOutcome(
            CallbackKind.PENDING, "", team_id=workspace.team_id, user_id=row.user_id, channel_id=row.channel_id
        )
        if row.used_at is not None:
            outcome.kind = CallbackKind.USED_STATE
            outcome.message = "This log-in link was already used, so nothing changed."
            return outcome, None
        if row.expires_at < now:
            outcome.kind = CallbackKind.EXPIRED_STATE
            outcome.message = "This log-in link expired (they last 10 minutes), so nothing changed."
            return outcome, None
        row.used_at = now
        verifier = db.box.decrypt(row.code_verifier_enc) if row.code_verifier_enc else None
        return outcome, verifier


def finish_callback(
    db: Database, *, provider: Provider, params: Mapping[str, str], redirect_uri: str, now: datetime
) -> CallbackOutcome:
    """Check the state, exchange the code, and connect the organisation or offer the choice of several."""
    state = params.get("state", "")
    if not state:
        return CallbackOutcome(
            CallbackKind.INVALID_STATE, "This page was opened without a log-in in progress; nothing changed."
        )
    outcome, verifier = _claim_state(db, provider=provider, state=state, now=now)
    if outcome.kind != CallbackKind.PENDING:
        return outcome
    if params.get("error"):
        if params["error"] == "access_denied":
            outcome.kind, outcome.message = (
                CallbackKind.CANCELLED,
                f"You cancelled the log-in at {provider.title}; nothing changed.",
            )
        else:
            outcome.kind = CallbackKind.PROVIDER_ERROR
            reason = params.get("error_description") or params["error"]
            outcome.message = f"{provider.title} could not complete the log-in ({reason}); nothing changed."
        return outcome
    try:
        grant = provider.exchange_code(
            code=params.get("code", ""), redirect_uri=redirect_uri, code_verifier=verifier, params=params
        )
        organisations = provider.organisations(grant)
    except ProviderError as exc:
        log.warning("%s code exchange failed: %s", provider.title, exc.message)
        # A refused request at the token endpoint is our app's settings (client id or secret, redirect URI,
        # scopes), not the person's log-in: no retry fixes it.
        kind = CallbackKind.CONFIGURATION if isinstance(exc, BadRequest) else CallbackKind.PROVIDER_ERROR
        outcome.kind, outcome.message = kind, f"{exc.message} Nothing changed."
        return outcome
    if not organisations:
        outcome.kind = CallbackKind.PROVIDER_ERROR
        outcome.message = f"The {provider.title} log-in did not give access to any organisation; nothing changed."
        return outcome
    assert outcome.team_id and outcome.user_id
    if len(organisations) == 1:
        return connect_organisation(
            db, provider=provider, outcome=outcome, organisation=organisations[0], tokens=grant.tokens, now=now
        )
    with db.session(write_lock=True) as s:  # reads, then writes: the write lock from the start (`start_connect`)
        workspace = workspaces.find(s, team_id=outcome.team_id)
        assert workspace is not None
        pending = PendingConnection(
            workspace_id=workspace.id,
            provider=provider.name,
            user_id=outcome.user_id,
            channel_id=outcome.channel_id,
            access_token_enc=db.box.encrypt(grant.tokens.access_token),
            refresh_token_enc=db.box.encrypt(grant.tokens.refresh_token) if grant.tokens.refresh_token else None,
            access_expires_at=grant.tokens.expires_at,
            scope=grant.tokens.scope,
            organisations={"items": [_org_dict(o) for o in organisations]},
            created_at=now,
            expires_at=now + PICK_TTL,
        )
        s.add(pending)
        s.flush()
        outcome.pending_id = pending.id
    outcome.kind = CallbackKind.CHOOSE
    outcome.organisations = organisations
    outcome.message = (
        f"Your {provider.title} log-in reaches {len(organisations)} organisations. "
        "Go back to Slack and choose the one to connect."
    )
    return outcome


def _org_dict(o: Organisation) -> dict[str, object]:
    return {
        "id": o.id,
        "name": o.name,
        "connection_id": o.connection_id,
        "kind": o.kind,
        "just_authorised": o.just_authorised,
    }


def _org_from(d: Mapping[str, object]) -> Organisation:
    return Organisation(
        id=str(d["id"]),
        name=str(d["name"]),
        connection_id=str(d["connection_id"]) if d.get("connection_id") else None,
        kind=str(d["kind"]) if d.get("kind") else None,
        just_authorised=bool(d.get("just_authorised")),
    )


def connect_organisation(
    db: Database,
    *,
    provider: Provider,
    outcome: CallbackOutcome,
    organisation: Organisation,
    tokens: Tokens,
    now: datetime,
) -> CallbackOutcome:
    """Store the connection (reusing the row of the same organisation), then retire any it replaces."""
    assert outcome.team_id
    with db.session(write_lock=True) as s:
        workspace = workspaces.find(s, team_id=outcome.team_id)
        assert workspace is not None
        row = s.scalar(
            select(Connection).where(
                Connection.workspace_id == workspace.id,
                Connection.provider == provider.name,
                Connection.organisation_id == organisation.id,
            )
        )
        reconnected = row is not None
        if row is None:
            row = Connection(workspace_id=workspace.id, provider=provider.name, organisation_id=organisation.id)
            s.add(row)
        row.organisation_name = organisation.name
        row.remote_connection_id = organisation.connection_id
        row.status, row.status_detail = "active", None
        row.connected_by, row.connected_at = outcome.user_id, now
        row.disconnected_at = row.attention_notified_at = None
        store_tokens(row, tokens, db, now)
        s.flush()
        if reconnected:  # its syncs carry on where they stopped
            resume_syncs(s, connection_ids=[row.id], now=now)
        replaced = s.scalars(
            select(Connection.id).where(
                Connection.workspace_id == workspace.id,
                Connection.status != ConnectionStatus.DISCONNECTED,
                Connection.id != row.id,
            )
        ).all()
        workspaces.record(
            s,
            workspace_id=workspace.id,
            actor=outcome.user_id,
            action="connection.reconnected" if reconnected else "connection.connected",
            detail={"provider": provider.name, "organisation": organisation.name, "replaced": list(replaced)},
        )
        outcome.connection_id = row.id
    outcome.kind = CallbackKind.CONNECTED
    outcome.reconnected = reconnected
    outcome.organisation_name = organisation.name
    outcome.replaced = list(replaced)
    outcome.message = f"accounts-bot is now connected to {organisation.name} in {provider.title}."
    return outcome


def _in_use(session: Session) -> set[str]:
    """Remote connection ids our live connections use (in any workspace): never disconnect those."""
    rows = session.scalars(
        select(Connection.remote_connection_id).where(Connection.status != ConnectionStatus.DISCONNECTED)
    )
    return {r for r in rows if r}


def _take_pending(session: Session, db: Database, pending: PendingConnection) -> tuple[list[Organisation], Tokens]:
    organisations = [_org_from(d) for d in pending.organisations["items"]]
    tokens = Tokens(
        access_token=db.box.decrypt(pending.access_token_enc),
        refresh_token=db.box.decrypt(pending.refresh_token_enc) if pending.refresh_token_enc else None,
        expires_at=pending.access_expires_at,
        scope=pending.scope,
    )
    session.delete(pending)
    return organisations, tokens


def choose_organisation(
    db: Database, *, provider: Provider, pending_id: int, organisation_id: str, user_id: str, now: datetime
) -> CallbackOutcome:
    """The person picked one organisation: connect it and disconnect the others at the package straight away."""
    with db.session(write_lock=True) as s:
        pending = s.scalar(select(PendingConnection).where(PendingConnection.id == pending_id).with_for_update())
        if pending is None:
            return CallbackOutcome(
                CallbackKind.INVALID_STATE, "This choice was already made or has expired; nothing changed."
            )
        if pending.user_id != user_id:
            return CallbackOutcome(CallbackKind.FORBIDDEN, "Only the person who logged in can choose the organisation.")
        workspace = s.get(Workspace, pending.workspace_id)
        assert workspace is not None
        outcome = CallbackOutcome(
            CallbackKind.PENDING, "", team_id=workspace.team_id, user_id=pending.user_id, channel_id=pending.channel_id
        )
        expired = pending.expires_at < now
        organisations, tokens = _take_pending(s, db, pending)
        in_use = _in_use(s)
    chosen = None if expired else next((o for o in organisations if o.id == organisation_id), None)
    _disconnect_unused(provider, tokens, [o for o in organisations if o is not chosen], in_use)
    if expired:
        outcome.kind, outcome.message = (
            CallbackKind.EXPIRED_STATE,
            "This choice expired; run `/accounts connect` again.",
        )
        return outcome
    if chosen is None:
        outcome.kind, outcome.message = CallbackKind.INVALID_STATE, "That organisation was not part of this log-in."
        return outcome
    return connect_organisation(db, provider=provider, outcome=outcome, organisation=chosen, tokens=tokens, now=now)


def expire_pending(db: Database, providers: Mapping[str, Provider], *, now: datetime) -> int:
    """Forget log-ins nobody picked an organisation for in time, disconnecting what they granted."""
    with db.session(write_lock=True) as s:
        due = s.scalars(select(PendingConnection).where(PendingConnection.expires_at < now)).all()
        grants = [(p.provider, *_take_pending(s, db, p)) for p in due]
        s.execute(delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1)))
        in_use = _in_use(s)
    for provider_name, organisations, tokens in grants:
        if provider_name in providers:
            _disconnect_unused(providers[provider_name], tokens, organisations, in_use)
    return len(grants)


class _FixedTokens:
    """A token keeper for a grant not stored as a connection (organisations granted but not picked)."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def access_token(self) -> str:
        return self.tokens.access_token

    def refreshed_access_token(self, rejected: str) -> str:
        return self.tokens.access_token

    def refresh_token(self) -> str | None:
        return self.tokens.refresh_token


def _disconnect_unused(provider: Provider, tokens: Tokens, organisations: list[Organisation], in_use: set[str]) -> None:
    """Disconnect granted organisations we do not keep, except links a live connection of ours uses."""
    keeper = _FixedTokens(tokens)
    for organisation in organisations:
        if organisation.connection_id in in_use:
            continue
        try:
            provider.disconnect(Link(organisation.id, keeper, organisation.connection_id), login_shared=True)
        except ProviderError as exc:
            log.warning("Could not disconnect unpicked organisation %s: %s", organisation.id, exc.message)


def retire(db: Database, provider: Provider, connection_id: int, *, actor: str | None, action: str) -> Connection:
    """Remove our link at the package (revoking the token when nothing else of ours uses it), then forget tokens.

    The package is asked first; whatever it answers, our tokens are deleted, so a disconnect always
    takes effect here. Imported customers and the mapping stay.
    """
    keeper = ConnectionTokens(db, provider, connection_id)
    with db.session() as s:
        connection = s.get(Connection, connection_id)
        assert connection is not None
        organisation_id, remote_id = connection.organisation_id, connection.remote_connection_id
    remote_error: str | None = None
    try:
        access = keeper.access_token()
        others = [o for o in provider.organisations(Grant(Tokens(access, None, None))) if o.id != organisation_id]
        provider.disconnect(Link(organisation_id, keeper, remote_id), login_shared=bool(others))
    except ProviderError as exc:
        remote_error = exc.message
        log.warning("Disconnect at %s failed for connection %s: %s", provider.title, connection_id, exc.message)
    with db.session(write_lock=True) as s:  # read, then change: SQLite's write lock from the start
        connection = s.get(Connection, connection_id)
        assert connection is not None
        connection.status = ConnectionStatus.DISCONNECTED
        connection.status_detail = remote_error
        connection.access_token_enc = connection.refresh_token_enc = None
        connection.access_expires_at = None
        connection.disconnected_at = datetime.now(connection.connected_at.tzinfo)
        stop_syncs(s, connection_ids=[connection_id])
        workspaces.record(
            s,
            workspace_id=connection.workspace_id,
            actor=actor,
            action=action,
            detail={
                "provider": provider.name,
                "organisation": connection.organisation_name,
                "remote_error": remote_error,
            },
        )
        s.flush()  # expunging drops changes not flushed yet
        s.expunge(connection)
    return connection
