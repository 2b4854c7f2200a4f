"""The customer database around accounts and contacts, one small module per job.

Models: :mod:`.teams` (teams and their members), :mod:`.custom_fields` (fields a tenant
admin defines, values kept in each record's ``custom`` JSON), :mod:`.tags` (an index of
record tags for filtering), :mod:`.activities` (calls, meetings, tasks, notes, e-mails),
:mod:`.saved_views` (a user's named list filters), :mod:`.duplicates` (candidate pairs and
dismissals). Services: :mod:`.validation`, :mod:`.visibility`, :mod:`.service` (create,
update, delete, restore), :mod:`.listing` (filters, sort, keyset pages), :mod:`.merge`,
:mod:`.search`, :mod:`.timeline`. Pages: :mod:`.views` and friends, on the ``workspace``
blueprint.
"""

from __future__ import annotations

from . import activities, custom_fields, duplicates, saved_views, tags, teams  # noqa: F401
