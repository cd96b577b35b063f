"""Azure rules: NSGs, public storage, TLS minimums, SQL/PostgreSQL/MySQL exposure, Key Vault, AKS, VMs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from clearance.model import Severity
from clearance.scanners.iac.model import Resource, iter_blocks, truthy
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import flag_not_true, flag_true, parse_port_spec, value_in
from clearance.scanners.iac.rules.network import Ingress, open_port_rules

_INTERNET = frozenset({"*", "internet", "any", "0.0.0.0/0", "0.0.0.0", "::/0"})


def _nsg_entry(prefix: str, rule_attrs: Mapping[str, Any]) -> Ingress | None:
    if str(rule_attrs.get("direction", "")).lower() != "inbound":
        return None
    if str(rule_attrs.get("access", "")).lower() != "allow":
        return None
    protocol = str(rule_attrs.get("protocol", "*")).lower()
    if protocol in ("icmp", "ah", "esp"):
        return None
    sources: list[tuple[str, object]] = []
    single = rule_attrs.get("source_address_prefix")
    if single is not None:
        sources.append((f"{prefix}source_address_prefix", _normalize(single)))
    for v in rule_attrs.get("source_address_prefixes") or []:
        sources.append((f"{prefix}source_address_prefixes", _normalize(v)))
    ports: list[tuple[int, int]] = []
    for attr in ("destination_port_range", "destination_port_ranges"):
        value = rule_attrs.get(attr)
        if value is None:
            continue
        parsed = parse_port_spec(value)
        if parsed is None:
            return Ingress(None, tuple(sources))
        ports.extend(parsed)
    return Ingress(tuple(ports), tuple(sources))


def _normalize(value: object) -> object:
    if isinstance(value, str) and value.strip().lower() in _INTERNET:
        return "0.0.0.0/0" if value.strip() != "::/0" else "::/0"
    return value


def nsg_ingress(res: Resource, ctx: RuleContext) -> Iterator[Ingress]:
    """Inbound allow entries of NSGs (inline `security_rule` blocks) and NSG rules."""
    if res.type == "azurerm_network_security_group":
        for path, block in iter_blocks(res, "security_rule"):
            entry = _nsg_entry(f"{path}.", block)
            if entry is not None:
                yield entry
    else:
        entry = _nsg_entry("", res.attributes)
        if entry is not None:
            yield entry


def _public_blob(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.type == "azurerm_storage_container":
        value = res.get("container_access_type")
        if isinstance(value, str) and value.lower() in ("blob", "container"):
            yield Hit("container_access_type", value, "Anonymous clients can read the container's blobs.")
        return
    for attr in ("allow_nested_items_to_be_public", "allow_blob_public_access"):
        value = res.get(attr)
        if truthy(value) is True:
            yield Hit(attr, value, "Containers in this account may be made public.")


def _sql_firewall(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    start, end = res.get("start_ip_address"), res.get("end_ip_address")
    if start == "0.0.0.0" and end == "255.255.255.255":
        yield Hit("end_ip_address", end, "The rule admits every IPv4 address.")


def _postgres_ssl(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    value = res.get("ssl_enforcement_enabled")
    if truthy(value) is False:
        yield Hit("ssl_enforcement_enabled", value, "Clients may connect without TLS.")
    version = res.get("ssl_minimal_tls_version_enforced")
    if isinstance(version, str) and version in ("TLS1_0", "TLS1_1", "TLSEnforcementDisabled"):
        yield Hit("ssl_minimal_tls_version_enforced", version, "TLS older than 1.2 is accepted.")


_NSG_FIX = """Allow the port only from known address ranges (or use Azure Bastion), e.g.:

  security_rule {
    name                       = "ssh-from-vpn"
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_address_prefix      = "10.10.0.0/16"
    destination_port_range     = "22"
    source_port_range          = "*"
    destination_address_prefix = "*"
    priority                   = 100
  }"""

RULES: tuple[IacRule, ...] = (
    *open_port_rules(
        "iac.azure-nsg-open",
        "Network security group",
        ("azurerm_network_security_group", "azurerm_network_security_rule"),
        nsg_ingress,
        _NSG_FIX,
        (
            "CIS Azure Foundations 6.1/6.2",
            "https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview",
        ),
    ),
    rule(
        id="iac.azure-storage-public-blob",
        title="Azure storage allows anonymous public blob access",
        severity=Severity.HIGH,
        risk="Public containers let anyone on the internet list and download their blobs without "
        "credentials.",
        remediation="Disallow public access:\n\n  allow_nested_items_to_be_public = false\n\n  # containers\n"
        '  container_access_type = "private"',
        resource_types=("azurerm_storage_account", "azurerm_storage_container"),
        category="public-access",
        check=_public_blob,
        references=("CIS Azure Foundations 3.7",),
        exposure="public",
    ),
    rule(
        id="iac.azure-storage-tls",
        title="Azure storage accepts TLS older than 1.2",
        severity=Severity.MEDIUM,
        risk="Clients can negotiate TLS 1.0/1.1, which have known weaknesses.",
        remediation='Require TLS 1.2:\n\n  min_tls_version = "TLS1_2"',
        resource_types=("azurerm_storage_account",),
        category="encryption",
        check=value_in("min_tls_version", ("TLS1_0", "TLS1_1")),
        references=("CIS Azure Foundations 3.15",),
    ),
    rule(
        id="iac.azure-storage-https-only",
        title="Azure storage accepts plain HTTP",
        severity=Severity.MEDIUM,
        risk="Requests and shared-access signatures can cross the network unencrypted.",
        remediation="Require HTTPS:\n\n  https_traffic_only_enabled = true",
        resource_types=("azurerm_storage_account",),
        category="encryption",
        check=lambda res, ctx: [
            Hit(a, res.get(a))
            for a in ("enable_https_traffic_only", "https_traffic_only_enabled")
            if truthy(res.get(a)) is False
        ],
        references=("CIS Azure Foundations 3.1",),
    ),
    rule(
        id="iac.azure-storage-network-default-allow",
        title="Azure storage network rules allow all networks by default",
        severity=Severity.LOW,
        risk="With default action Allow the account's endpoints accept traffic from any network.",
        remediation='Deny by default and list the networks:\n\n  network_rules {\n    default_action = "Deny"\n'
        '    ip_rules       = ["203.0.113.0/24"]\n  }',
        resource_types=("azurerm_storage_account", "azurerm_storage_account_network_rules"),
        category="network",
        check=lambda res, ctx: [
            Hit(p, v)
            for p, v in (
                ("network_rules.0.default_action", res.get("network_rules.0.default_action")),
                ("default_action", res.get("default_action")),
            )
            if isinstance(v, str) and v.lower() == "allow"
        ],
        references=("CIS Azure Foundations 3.8",),
        exposure="public",
    ),
    rule(
        id="iac.azure-sql-firewall-open",
        title="Azure database firewall admits every address",
        severity=Severity.HIGH,
        risk="A firewall rule from 0.0.0.0 to 255.255.255.255 lets anyone on the internet reach the "
        "database's login.",
        remediation='Allow only known ranges:\n\n  start_ip_address = "203.0.113.10"\n  end_ip_address   = '
        '"203.0.113.20"',
        resource_types=(
            "azurerm_mssql_firewall_rule",
            "azurerm_sql_firewall_rule",
            "azurerm_postgresql_firewall_rule",
            "azurerm_mysql_firewall_rule",
            "azurerm_postgresql_flexible_server_firewall_rule",
            "azurerm_mysql_flexible_server_firewall_rule",
            "azurerm_mariadb_firewall_rule",
        ),
        category="network",
        check=_sql_firewall,
        references=("CIS Azure Foundations 4.1.2",),
        exposure="public",
    ),
    rule(
        id="iac.azure-sql-tls",
        title="Azure SQL server accepts TLS older than 1.2",
        severity=Severity.MEDIUM,
        risk="Clients can negotiate TLS 1.0/1.1 to the database.",
        remediation='Require TLS 1.2:\n\n  minimum_tls_version = "1.2"',
        resource_types=("azurerm_mssql_server",),
        category="encryption",
        check=value_in("minimum_tls_version", ("1.0", "1.1", "Disabled")),
        references=("https://learn.microsoft.com/azure/azure-sql/database/connectivity-settings",),
    ),
    rule(
        id="iac.azure-sql-tde",
        title="Azure SQL database transparent data encryption disabled",
        severity=Severity.HIGH,
        risk="Database files, backups and logs are stored unencrypted.",
        remediation="Keep TDE on:\n\n  transparent_data_encryption_enabled = true",
        resource_types=("azurerm_mssql_database",),
        category="encryption",
        check=flag_not_true("transparent_data_encryption_enabled", missing_fires=False),
        references=("CIS Azure Foundations 4.1.5",),
    ),
    rule(
        id="iac.azure-db-ssl",
        title="Azure PostgreSQL/MySQL server does not enforce TLS 1.2",
        severity=Severity.MEDIUM,
        risk="Clients may connect without TLS or with old TLS versions, exposing credentials and data.",
        remediation="Enforce TLS 1.2:\n\n  ssl_enforcement_enabled          = true\n"
        '  ssl_minimal_tls_version_enforced = "TLS1_2"',
        resource_types=("azurerm_postgresql_server", "azurerm_mysql_server", "azurerm_mariadb_server"),
        category="encryption",
        check=_postgres_ssl,
        references=("CIS Azure Foundations 4.3.1",),
    ),
    rule(
        id="iac.azure-keyvault-purge-protection",
        title="Key Vault without purge protection",
        severity=Severity.LOW,
        risk="A compromised or careless admin can permanently delete the vault's keys and secrets.",
        remediation="Enable purge protection:\n\n  purge_protection_enabled = true",
        resource_types=("azurerm_key_vault",),
        category="encryption",
        check=flag_not_true("purge_protection_enabled"),
        references=("CIS Azure Foundations 8.5",),
    ),
    rule(
        id="iac.azure-aks-rbac-disabled",
        title="AKS cluster without Kubernetes RBAC",
        severity=Severity.HIGH,
        risk="Without RBAC every authenticated user has full control of the cluster.",
        remediation="Keep RBAC on:\n\n  role_based_access_control_enabled = true",
        resource_types=("azurerm_kubernetes_cluster",),
        category="iam",
        check=flag_not_true("role_based_access_control_enabled", missing_fires=False),
        references=("CIS AKS Benchmark",),
    ),
    rule(
        id="iac.azure-vm-password-auth",
        title="Linux VM allows password authentication",
        severity=Severity.MEDIUM,
        risk="SSH passwords can be brute-forced; keys cannot.",
        remediation="Use SSH keys only:\n\n  disable_password_authentication = true\n  admin_ssh_key {\n"
        '    username   = "azureuser"\n    public_key = file("~/.ssh/id_ed25519.pub")\n  }',
        resource_types=("azurerm_linux_virtual_machine", "azurerm_linux_virtual_machine_scale_set"),
        category="network",
        check=lambda res, ctx: (
            [Hit("disable_password_authentication", False)]
            if truthy(res.get("disable_password_authentication")) is False
            else []
        ),
        references=("https://learn.microsoft.com/azure/virtual-machines/linux/create-ssh-keys-detailed",),
    ),
    rule(
        id="iac.azure-sql-public-network",
        title="Azure SQL server reachable over the public network",
        severity=Severity.MEDIUM,
        risk="With public network access enabled the server's endpoint is reachable from the internet, "
        "protected only by firewall rules.",
        remediation="Use private endpoints:\n\n  public_network_access_enabled = false",
        resource_types=("azurerm_mssql_server",),
        category="public-access",
        check=flag_true("public_network_access_enabled"),
        references=("https://learn.microsoft.com/azure/azure-sql/database/connectivity-settings",),
        exposure="public",
    ),
)
