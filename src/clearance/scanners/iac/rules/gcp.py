"""Google Cloud rules: firewalls, public buckets and datasets, Cloud SQL, GKE, KMS, Compute."""

from __future__ import annotations

from collections.abc import Iterator

from clearance.model import Severity
from clearance.scanners.iac.model import Resource, first_unevaluated, is_unknown, iter_blocks, truthy
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import (
    flag_not_true,
    flag_true,
    is_anywhere,
    parse_port_spec,
    strings,
)
from clearance.scanners.iac.rules.network import Ingress, open_port_rules

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
_PUBLIC_PREDEFINED = {
    "publicRead": "The predefined ACL `publicRead` lets anyone on the internet read.",
    "publicReadWrite": "The predefined ACL `publicReadWrite` lets anyone on the internet read and write.",
    "authenticatedRead": "The predefined ACL `authenticatedRead` lets any Google account read.",
}
"""Predefined (canned) Cloud Storage ACLs that admit allUsers or allAuthenticatedUsers."""
_MAX_ROTATION_S = 90 * 24 * 3600


def firewall_ingress(res: Resource, ctx: RuleContext) -> Iterator[Ingress]:
    """Inbound allow entries of a VPC firewall rule."""
    direction = res.get("direction", "INGRESS")
    if isinstance(direction, str) and direction.upper() != "INGRESS":
        return
    if truthy(res.get("disabled")) is True:
        return
    ranges = res.get("source_ranges")
    sources: list[tuple[str, object]] = []
    if isinstance(ranges, list):
        sources = [("source_ranges", v) for v in ranges]
    elif ranges is not None:
        sources = [("source_ranges", ranges)]
    for _, block in iter_blocks(res, "allow"):
        protocol = str(block.get("protocol", "")).lower()
        if protocol in ("icmp", "esp", "ah", "sctp", "ipip"):
            continue
        ports = block.get("ports")
        if protocol == "all" or ports is None or ports == []:
            port_ranges: list[tuple[int, int]] | None = [(0, 65535)]
        else:
            port_ranges = parse_port_spec(ports)
        yield Ingress(tuple(port_ranges) if port_ranges is not None else None, tuple(sources))


def _public_members(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for attr in ("member", "members"):
        value = res.get(attr)
        public = False
        for i, m in enumerate(strings(value)):
            if m in PUBLIC_MEMBERS:
                public = True
                path = attr if attr == "member" else f"{attr}.{i}"
                yield Hit(path, m, f"`{m}` is granted {res.get('role', 'access')}.")
        if (
            not public and first_unevaluated(value, references=False) is not None
        ):  # fixed by the file, not computed
            yield Hit(
                attr, value, "The member list could not be evaluated and is read as including `allUsers`."
            )
    for attr in ("entity",):
        value = res.get(attr)
        if isinstance(value, str) and value in PUBLIC_MEMBERS:
            yield Hit(attr, value)
    for i, entry in enumerate(strings(res.get("role_entity"))):
        if any(entry.endswith(f":{m}") for m in PUBLIC_MEMBERS):
            yield Hit(f"role_entity.{i}", entry)
    predefined = res.get("predefined_acl")
    if isinstance(predefined, str) and predefined in _PUBLIC_PREDEFINED:
        yield Hit("predefined_acl", predefined, _PUBLIC_PREDEFINED[predefined])


def _bigquery_public(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.type == "google_bigquery_dataset":
        for path, block in iter_blocks(res, "access"):
            for attr in ("special_group", "iam_member"):
                value = block.get(attr)
                if isinstance(value, str) and value in PUBLIC_MEMBERS:
                    yield Hit(f"{path}.{attr}", value)
        return
    yield from _public_members(res, ctx)


def _sql_public(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for path, block in iter_blocks(res, "settings.0.ip_configuration.0.authorized_networks"):
        value = block.get("value")
        if is_anywhere(value):
            yield Hit(f"{path}.value", value, "The instance accepts connections from any address.")


def _sql_ssl(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    ip = res.get("settings.0.ip_configuration.0")
    if not isinstance(ip, dict):
        yield Hit("", None, "No `ip_configuration`: SSL is not required.")
        return
    mode = ip.get("ssl_mode")
    if isinstance(mode, str) and mode in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"):
        return
    if is_unknown(mode) or is_unknown(ip.get("require_ssl")):
        return
    if truthy(ip.get("require_ssl")) is not True:
        path = (
            "settings.0.ip_configuration.0.ssl_mode" if mode else "settings.0.ip_configuration.0.require_ssl"
        )
        yield Hit(path, mode or ip.get("require_ssl"), "Connections without TLS are accepted.")


def _default_sa_scope(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for path, sa in iter_blocks(res, "service_account"):
        email = sa.get("email")
        scopes = strings(sa.get("scopes"))
        default_sa = email is None or (
            isinstance(email, str) and email.endswith("-compute@developer.gserviceaccount.com")
        )
        if default_sa and any(
            s in ("cloud-platform", "https://www.googleapis.com/auth/cloud-platform") for s in scopes
        ):
            yield Hit(f"{path}.scopes", scopes, "The default service account has full cloud-platform access.")


def _serial_port(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    value = res.get("metadata.serial-port-enable")
    if truthy(value) is True:
        yield Hit("metadata", "serial-port-enable = true")


def _kms_rotation(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    period = res.get("rotation_period")
    if period is None:
        yield Hit("", None, "No `rotation_period`: the key is never rotated.")
        return
    if isinstance(period, str) and period.endswith("s"):
        try:
            seconds = float(period[:-1])
        except ValueError:
            return
        if seconds > _MAX_ROTATION_S:
            yield Hit("rotation_period", period, "The key rotates less often than every 90 days.")


def _primitive_role(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    role = res.get("role")
    if isinstance(role, str) and role in ("roles/owner", "roles/editor"):
        yield Hit("role", role, "A basic role grants broad access to every service in the project.")


_FW_FIX = """Restrict the source ranges (or use IAP for SSH/RDP), e.g.:

  source_ranges = ["35.235.240.0/20"]  # IAP TCP forwarding
  target_tags   = ["bastion"]"""

RULES: tuple[IacRule, ...] = (
    *open_port_rules(
        "iac.gcp-firewall-open",
        "VPC firewall rule",
        ("google_compute_firewall",),
        firewall_ingress,
        _FW_FIX,
        ("CIS GCP Foundations 3.6/3.7", "https://cloud.google.com/firewall/docs/firewalls"),
    ),
    rule(
        id="iac.gcp-storage-public",
        title="Cloud Storage bucket open to allUsers/allAuthenticatedUsers",
        severity=Severity.HIGH,
        risk="Granting a bucket role to allUsers or allAuthenticatedUsers lets anyone on the internet (or "
        "any Google account) read or write its objects.",
        remediation='Grant roles to specific principals:\n\n  member = "group:data-readers@example.com"',
        resource_types=(
            "google_storage_bucket_iam_member",
            "google_storage_bucket_iam_binding",
            "google_storage_bucket_access_control",
            "google_storage_default_object_access_control",
            "google_storage_bucket_acl",
            "google_storage_object_access_control",
            "google_storage_default_object_acl",
            "google_storage_object_acl",
        ),
        category="public-access",
        check=_public_members,
        references=("CIS GCP Foundations 5.1",),
        exposure="public",
    ),
    rule(
        id="iac.gcp-storage-uniform-access",
        title="Cloud Storage bucket without uniform bucket-level access",
        severity=Severity.LOW,
        risk="Per-object ACLs make it easy to publish an object by accident and hard to audit who can read "
        "what.",
        remediation="Use IAM only:\n\n  uniform_bucket_level_access = true",
        resource_types=("google_storage_bucket",),
        category="public-access",
        check=flag_not_true("uniform_bucket_level_access"),
        references=("CIS GCP Foundations 5.2",),
    ),
    rule(
        id="iac.gcp-bigquery-public",
        title="BigQuery dataset open to allUsers/allAuthenticatedUsers",
        severity=Severity.HIGH,
        risk="Anyone on the internet (or any Google account) can query the dataset's tables.",
        remediation='Grant access to specific groups:\n\n  access {\n    role           = "READER"\n'
        '    group_by_email = "analysts@example.com"\n  }',
        resource_types=(
            "google_bigquery_dataset",
            "google_bigquery_dataset_iam_member",
            "google_bigquery_dataset_iam_binding",
        ),
        category="public-access",
        check=_bigquery_public,
        references=("CIS GCP Foundations 7.1",),
        exposure="public",
    ),
    rule(
        id="iac.gcp-sql-public",
        title="Cloud SQL instance authorizes 0.0.0.0/0",
        severity=Severity.HIGH,
        risk="An authorized network of 0.0.0.0/0 lets anyone on the internet connect to the database.",
        remediation="Use private IP or list specific networks:\n\n  ip_configuration {\n    ipv4_enabled    = false\n"
        "    private_network = google_compute_network.vpc.id\n  }",
        resource_types=("google_sql_database_instance",),
        category="public-access",
        check=_sql_public,
        references=("CIS GCP Foundations 6.5",),
        exposure="public",
    ),
    rule(
        id="iac.gcp-sql-ssl",
        title="Cloud SQL instance does not require TLS",
        severity=Severity.MEDIUM,
        risk="Clients can connect without TLS, sending credentials and data in clear text.",
        remediation='Require TLS:\n\n  ip_configuration {\n    ssl_mode = "ENCRYPTED_ONLY"\n  }',
        resource_types=("google_sql_database_instance",),
        category="encryption",
        check=_sql_ssl,
        references=("CIS GCP Foundations 6.4",),
    ),
    rule(
        id="iac.gcp-compute-default-sa-full-scope",
        title="VM uses the default service account with full API access",
        severity=Severity.MEDIUM,
        risk="Any process on the VM can use the project's Editor-level default service account against "
        "every Google API.",
        remediation="Use a dedicated service account with narrow roles:\n\n  service_account {\n    email  = "
        'google_service_account.app.email\n    scopes = ["cloud-platform"]\n  }',
        resource_types=("google_compute_instance", "google_compute_instance_template"),
        category="iam",
        check=_default_sa_scope,
        references=("CIS GCP Foundations 4.2",),
    ),
    rule(
        id="iac.gcp-compute-serial-port",
        title="VM serial console access enabled",
        severity=Severity.MEDIUM,
        risk="The interactive serial console accepts connections from any IP address and bypasses network "
        "controls.",
        remediation='Remove it from metadata:\n\n  metadata = {\n    serial-port-enable = "false"\n  }',
        resource_types=("google_compute_instance", "google_compute_instance_template"),
        category="network",
        check=_serial_port,
        references=("CIS GCP Foundations 4.5",),
    ),
    rule(
        id="iac.gcp-gke-legacy-abac",
        title="GKE legacy ABAC enabled",
        severity=Severity.HIGH,
        risk="Legacy ABAC grants broad, unauditable permissions that bypass Kubernetes RBAC.",
        remediation="Disable it:\n\n  enable_legacy_abac = false",
        resource_types=("google_container_cluster",),
        category="iam",
        check=flag_true("enable_legacy_abac"),
        references=("CIS GKE Benchmark 6.8.3",),
    ),
    rule(
        id="iac.gcp-kms-rotation",
        title="Cloud KMS key not rotated every 90 days",
        severity=Severity.LOW,
        risk="A key that is rarely rotated keeps more ciphertext exposed to a single key compromise.",
        remediation='Rotate at least every 90 days:\n\n  rotation_period = "7776000s"',
        resource_types=("google_kms_crypto_key",),
        category="encryption",
        check=_kms_rotation,
        references=("CIS GCP Foundations 1.10",),
    ),
    rule(
        id="iac.gcp-iam-primitive-role",
        title="Basic Owner/Editor role granted",
        severity=Severity.MEDIUM,
        risk="Owner and Editor grant read-write access to nearly every service in the project, far beyond "
        "what any workload needs.",
        remediation='Grant a predefined role instead:\n\n  role = "roles/storage.objectViewer"',
        resource_types=("google_project_iam_member", "google_project_iam_binding"),
        category="iam",
        check=_primitive_role,
        references=("CIS GCP Foundations 1.5",),
    ),
    rule(
        id="iac.gcp-disk-cmek",
        title="Compute disk not encrypted with a customer-managed key",
        severity=Severity.LOW,
        risk="Disks encrypted only with Google-managed keys cannot be made unreadable by revoking a key you "
        "control.",
        remediation="Use a CMEK:\n\n  disk_encryption_key {\n    kms_key_self_link = google_kms_crypto_key.disk.id\n  }",
        resource_types=("google_compute_disk",),
        category="encryption",
        check=lambda res, ctx: (
            [] if res.get("disk_encryption_key") else [Hit("", None, "No `disk_encryption_key` block.")]
        ),
        references=("CIS GCP Foundations 4.7",),
    ),
)
