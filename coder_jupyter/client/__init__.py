"""The ``coder`` REST client: :class:`Coder` (sync) and :class:`AsyncCoder` (async), typed models,
pagination, workspace actions with progress, HTML reprs and ``to_dataframe()``.

::

    from coder_jupyter.client import Coder

    coder = Coder()                              # CODER_URL + your login (or CODER_SESSION_TOKEN)
    coder.me()
    coder.workspaces("owner:me").to_dataframe()
    coder.start("dev")                           # waits, with a progress bar in a notebook
"""

from .._transport import RetryPolicy
from ._lists import TemplateList, WorkspaceList
from .aio import AsyncCoder
from .models import (
    BuildInfo,
    Organization,
    ProvisionerJob,
    ProvisionerJobLog,
    Role,
    Template,
    User,
    Workspace,
    WorkspaceBuild,
    WorkspaceHealth,
)
from .sync import Coder

__all__ = [
    "AsyncCoder",
    "BuildInfo",
    "Coder",
    "Organization",
    "ProvisionerJob",
    "ProvisionerJobLog",
    "RetryPolicy",
    "Role",
    "Template",
    "TemplateList",
    "User",
    "Workspace",
    "WorkspaceBuild",
    "WorkspaceHealth",
    "WorkspaceList",
]
