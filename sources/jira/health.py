"""The Jira site in /api/health: credentials it refused make the hub "degraded"."""

from __future__ import annotations

from ingestion.health import DEGRADED, OK, UNKNOWN, Check, register_check
from sources.jira.client import configured_base_url, is_configured
from sources.jira.models import JiraSite


def describe(site: JiraSite) -> dict[str, object]:
    """The site as health may show it: never a credential."""
    return {
        "base_url": site.base_url,
        "deployment_type": site.deployment_type,
        "version": site.version,
        "account": site.account_name or site.account_id,
        "time_zone": site.time_zone,
        "checked_at": site.checked_at.isoformat() if site.checked_at else None,
        "refused_at": site.refused_at.isoformat() if site.refused_at else None,
        "refused_reason": site.refused_reason,
    }


@register_check("jira_site")
def check_jira_site() -> Check:
    if not is_configured():
        return Check(UNKNOWN, {"reason": "Jira is not configured"})
    base_url = configured_base_url()
    site = JiraSite.objects.filter(base_url=base_url).first()
    if site is None:
        return Check(UNKNOWN, {"reason": "not synced yet", "base_url": base_url})
    return Check(DEGRADED if site.is_refused else OK, describe(site))
