"""SQLAlchemy 2 typed models, one module per area. Columns ending in `_enc` hold Fernet ciphertext, never plaintext.

Every model module is imported here, so `Base.metadata` (which Alembic compares against) knows every table.
"""

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.chart import AccountMapping, ChartAccount, ChartTaxRate
from storage.models.chores import CallBudget, CallSlot, Chore
from storage.models.connection import Connection, ConnectionStatus, PendingConnection, locked_connection
from storage.models.customers import Customer, CustomerReference
from storage.models.handled import HandledRequest
from storage.models.home import HomeViewer
from storage.models.import_runs import ImportRun, ImportRunSkip, RunPriority, RunStatus
from storage.models.invoices import (
    OPEN_STATUSES,
    Invoice,
    InvoicePayment,
    InvoiceStatus,
    InvoiceTracking,
    PaymentStatus,
)
from storage.models.shown_views import ShownView
from storage.models.status_changes import StatusChange
from storage.models.sync_settings import SyncSettings
from storage.models.workspace import AuditEvent, OAuthState, SlackInstallation, Workspace, WorkspaceAdmin

__all__ = [
    "AccountMapping",
    "ChartAccount",
    "ChartTaxRate",
    "AuditEvent",
    "Base",
    "CallBudget",
    "CallSlot",
    "Chore",
    "Connection",
    "ConnectionStatus",
    "Customer",
    "CustomerReference",
    "HandledRequest",
    "HomeViewer",
    "ImportRun",
    "ImportRunSkip",
    "Invoice",
    "InvoicePayment",
    "InvoiceStatus",
    "InvoiceTracking",
    "OPEN_STATUSES",
    "PaymentStatus",
    "OAuthState",
    "PendingConnection",
    "RunPriority",
    "RunStatus",
    "ShownView",
    "SlackInstallation",
    "StatusChange",
    "SyncSettings",
    "UTCDateTime",
    "Workspace",
    "WorkspaceAdmin",
    "locked_connection",
    "utcnow",
]
