"""Terraform HCL evaluation: variables, tfvars, locals, references, dynamic blocks, count, modules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clearance.scanners.iac.budget import Limits
from clearance.scanners.iac.model import Resource, Unevaluated, Unknown
from clearance.scanners.iac.parsers import hcl_fast, terraform


def _parse(files: dict[str, str], var_files: dict[str, str] | None = None) -> dict[str, Resource]:
    texts = {p: textwrap.dedent(t).lstrip() for p, t in files.items()}
    resources, errors = terraform.parse_files(texts, var_files)
    assert errors == []
    return {r.address: r for r in resources}


def test_variables_tfvars_and_var_files_override_defaults() -> None:
    files = {
        "env/main.tf": """
            variable "acl" {
              default = "private"
            }
            variable "name" {}
            variable "ports" {
              default = [22]
            }
            resource "aws_s3_bucket" "b" {
              bucket = "acme-${var.name}"
              acl    = var.acl
            }
        """,
        "env/terraform.tfvars": 'acl = "public-read"\n',
        "env/extra.auto.tfvars.json": '{"name": "logs"}',
    }
    r = _parse(files)["aws_s3_bucket.b"]
    assert r.attributes["acl"] == "public-read"
    assert r.attributes["bucket"] == "acme-logs"
    assert r.lines == {"bucket": 9, "acl": 10}
    configured = _parse(files, {"ci.tfvars": 'acl = "authenticated-read"\n'})["aws_s3_bucket.b"]
    assert configured.attributes["acl"] == "authenticated-read"


def test_unset_variable_and_unevaluated_function_calls_are_unknown() -> None:
    r = _parse(
        {
            "m/main.tf": """
            variable "cidr" {}
            resource "aws_security_group_rule" "r" {
              cidr_blocks = [var.cidr]
              description = cidrsubnet(var.cidr, 8, 1)
              from_port   = var.enabled ? 22 : 0
              to_port     = var.enabled ? 22 : 22
              protocol    = upper("tcp")
            }
        """
        }
    )["aws_security_group_rule.r"]
    cidr = r.attributes["cidr_blocks"][0]
    assert isinstance(cidr, Unknown) and cidr.expr == "var.cidr"
    assert isinstance(r.attributes["description"], Unknown)
    assert isinstance(r.attributes["from_port"], Unknown)
    assert r.attributes["to_port"] == 22  # both branches agree
    assert r.attributes["protocol"] == "TCP"


def test_locals_references_and_computed_attributes() -> None:
    rs = _parse(
        {
            "m/main.tf": """
            locals {
              env    = "prod"
              bucket = "acme-${local.env}-data"
            }
            resource "aws_s3_bucket" "data" {
              bucket = local.bucket
            }
            resource "aws_s3_bucket_acl" "by_name" {
              bucket = aws_s3_bucket.data.bucket
              acl    = "private"
            }
            resource "aws_s3_bucket_versioning" "by_id" {
              bucket = aws_s3_bucket.data.id
            }
        """
        }
    )
    assert rs["aws_s3_bucket.data"].attributes["bucket"] == "acme-prod-data"
    assert rs["aws_s3_bucket_acl.by_name"].attributes["bucket"] == "acme-prod-data"
    ref = rs["aws_s3_bucket_versioning.by_id"].attributes["bucket"]
    assert isinstance(ref, Unknown) and ref.ref == "aws_s3_bucket.data"


def test_dynamic_blocks_expand_over_literal_for_each() -> None:
    r = _parse(
        {
            "m/main.tf": """
            locals {
              rules = { ssh = 22, https = 443 }
            }
            resource "aws_security_group" "sg" {
              dynamic "ingress" {
                for_each = local.rules
                iterator = rule
                content {
                  from_port   = rule.value
                  to_port     = rule.value
                  description = rule.key
                  cidr_blocks = ["0.0.0.0/0"]
                }
              }
            }
        """
        }
    )["aws_security_group.sg"]
    ingress = r.attributes["ingress"]
    assert [(i["description"], i["from_port"]) for i in ingress] == [("ssh", 22), ("https", 443)]
    assert r.line_of("ingress.1.cidr_blocks") == 12


def test_count_zero_and_empty_for_each_create_nothing() -> None:
    rs = _parse(
        {
            "m/main.tf": """
            variable "enabled" {
              default = false
            }
            resource "aws_instance" "off" {
              count = 0
            }
            resource "aws_instance" "none" {
              for_each = {}
            }
            resource "aws_instance" "each" {
              for_each = { a = "t3.micro" }
              instance_type = each.value
            }
            resource "aws_instance" "disabled" {
              count = var.enabled ? 1 : 0
            }
            resource "aws_instance" "literal_false" {
              count = false ? 1 : 0
            }
            resource "aws_instance" "empty_set" {
              for_each = toset([])
            }
            resource "aws_instance" "conditional_map" {
              for_each = var.enabled ? { a = 1 } : {}
            }
            resource "aws_instance" "length_zero" {
              count = length(var.names) > 0 ? 1 : 0
            }
            resource "aws_instance" "both" {
              count = var.enabled && var.unset ? 1 : 0
            }
            variable "names" {
              default = []
            }
            variable "unset" {}
            resource "aws_instance" "maybe" {
              count = var.unset ? 1 : 0
            }
            resource "aws_instance" "on" {
              count = var.enabled ? 0 : 2
            }
        """
        }
    )
    created = {a for a in rs if a.startswith("aws_instance.")}
    assert created == {"aws_instance.each", "aws_instance.maybe", "aws_instance.on[0]", "aws_instance.on[1]"}
    assert rs["aws_instance.each"].attributes["instance_type"] == "t3.micro"
    assert rs["aws_instance.maybe"].extra["instances"] == "unknown"  # cannot tell: kept, low confidence
    assert "instances" not in rs["aws_instance.on[1]"].extra


def test_module_switched_off_by_its_input_creates_nothing() -> None:
    module = """
        variable "create" {
          default = true
        }
        resource "aws_s3_bucket" "this" {
          count  = var.create ? 1 : 0
          bucket = "b"
        }
    """
    rs = _parse(
        {
            "mods/bucket/main.tf": module,
            "root/main.tf": """
            module "off" {
              source = "../mods/bucket"
              create = false
            }
            module "on" {
              source = "../mods/bucket"
            }
            module "none" {
              source = "../mods/bucket"
              count  = 0
            }
            variable "flag" {}
            module "maybe" {
              source   = "../mods/bucket"
              for_each = var.flag
            }
        """,
        }
    )
    buckets = {a: r for a, r in rs.items() if a.endswith("aws_s3_bucket.this")}
    assert set(buckets) == {"module.on.aws_s3_bucket.this", "module.maybe.aws_s3_bucket.this"}
    assert buckets["module.maybe.aws_s3_bucket.this"].extra["instances"] == "unknown"


def test_policy_documents_jsonencode_heredoc_and_data_source() -> None:
    rs = _parse(
        {
            "m/main.tf": """
            data "aws_iam_policy_document" "doc" {
              statement {
                actions   = ["s3:GetObject"]
                resources = ["*"]
                condition {
                  test     = "Bool"
                  variable = "aws:SecureTransport"
                  values   = ["true"]
                }
              }
            }
            resource "aws_iam_policy" "a" {
              policy = data.aws_iam_policy_document.doc.json
            }
            resource "aws_iam_policy" "b" {
              policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }] })
            }
            resource "aws_iam_policy" "c" {
              policy = <<-EOT
                {"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "${aws_iam_policy.b.name}"}]}
              EOT
            }
        """
        }
    )
    a = rs["aws_iam_policy.a"].attributes["policy"]
    assert a["Statement"][0]["Action"] == ["s3:GetObject"]
    assert a["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": ["true"]}}
    assert rs["aws_iam_policy.b"].attributes["policy"]["Statement"][0]["Action"] == "*"
    c = rs["aws_iam_policy.c"].attributes["policy"]
    assert isinstance(c, Unknown) and c.ref == "aws_iam_policy.b"


def test_local_module_is_evaluated_with_caller_inputs() -> None:
    rs = _parse(
        {
            "live/main.tf": """
            module "web" {
              source = "../modules/sg"
              cidr   = "0.0.0.0/0"
            }
        """,
            "modules/sg/main.tf": """
            variable "cidr" {
              default = "10.0.0.0/8"
            }
            resource "aws_security_group" "this" {
              ingress {
                from_port   = 22
                to_port     = 22
                cidr_blocks = [var.cidr]
              }
            }
        """,
        }
    )
    assert set(rs) == {"module.web.aws_security_group.this"}  # the module dir is not also a root
    sg = rs["module.web.aws_security_group.this"]
    assert sg.path == "modules/sg/main.tf"
    assert sg.attributes["ingress"][0]["cidr_blocks"] == ["0.0.0.0/0"]


def test_tf_json_and_malformed_files() -> None:
    resources, errors = terraform.parse_files(
        {
            "a/main.tf.json": '{"resource": {"aws_s3_bucket": {"b": {"bucket": "x", "acl": "public-read"}}}}',
            "b/main.tf": 'resource "aws_s3_bucket" "x" {\n  acl = \n}\n',
            "b/vars.tfvars": "not = [valid",
            "c/main.tf": 'resource "aws_s3_bucket" "ok" {\n  bucket = "fine"\n}\n',
        }
    )
    by = {r.address: r for r in resources}
    assert by["aws_s3_bucket.b"].attributes["acl"] == "public-read"
    assert by["aws_s3_bucket.ok"].attributes["bucket"] == "fine"
    assert [p for p, _ in errors] == ["b/main.tf"]  # vars.tfvars is not auto-loaded, so never read


def _evaluate_all(
    fast: bool, texts: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[tuple[str, str], str], list[tuple[str, str]]]:
    monkeypatch.setattr(terraform, "FAST", fast)
    resources, errors = terraform.parse_files(texts)
    # only the fixtures made to be unevaluable are reported (test_iac_unevaluable.py)
    assert all(p.startswith("unevaluable/") for p, _ in errors), errors
    return {
        (r.path, r.address): repr((r.attributes, dict(r.lines), r.start_line, r.end_line, dict(r.extra)))
        for r in resources
    }, sorted(errors)


def test_fast_reader_agrees_with_python_hcl2_on_every_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2] / "fixtures" / "iac"
    texts = {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.tf"))}
    assert len(texts) > 100
    # the registry-module shapes (and some unevaluable cases) use `for` expressions, which
    # only the full grammar reads
    assert all(
        hcl_fast.parse(t) is not None
        for p, t in texts.items()
        if not p.startswith(("modules/", "unevaluable/"))
    )
    assert _evaluate_all(True, texts, monkeypatch) == _evaluate_all(False, texts, monkeypatch)


def test_fast_reader_hands_unusual_syntax_to_python_hcl2(monkeypatch: pytest.MonkeyPatch) -> None:
    text = textwrap.dedent("""
        locals {
          names = [for n in ["a", "b"] : upper(n)]
          tags  = { for k, v in var.tags : k => v }
        }
        resource "aws_s3_bucket" "b" {
          bucket = "x" # trailing comment
          acl    = var.public ? "public-read" : "private"
          policy = jsonencode({
            Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }]
          })
        }
    """).lstrip()
    assert hcl_fast.parse(text) is None  # `for` expressions need the full grammar
    texts = {"m/main.tf": text}
    assert _evaluate_all(True, texts, monkeypatch) == _evaluate_all(False, texts, monkeypatch)


_FOR_AND_PLAIN_BLOCKS = textwrap.dedent("""
    locals {
      names = [for n in var.names : upper(n)]
    }

    resource "aws_s3_bucket" "b" {
      bucket = "x"
      acl    = var.public ? "public-read" : "private"
    }

    resource "aws_security_group_rule" "r" {
      for_each    = { for k, v in var.rules : k => v if v.enabled }
      type        = "ingress"
      cidr_blocks = ["0.0.0.0/0"]
      from_port   = 22
      to_port     = 22
    }
""").lstrip()


def test_only_the_blocks_the_fast_reader_cannot_read_go_to_python_hcl2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hcl2

    split = hcl_fast.parse_blocks(_FOR_AND_PLAIN_BLOCKS)
    assert split is not None
    assert [node is None for _, _, node in split] == [True, False, True]
    given: list[str] = []
    parses = hcl2.parses
    monkeypatch.setattr(hcl2, "parses", lambda text: given.append(text) or parses(text))
    blocks = terraform._parse_hcl("m/main.tf", _FOR_AND_PLAIN_BLOCKS)
    assert [b.labels for b in blocks] == [(), ("aws_s3_bucket", "b"), ("aws_security_group_rule", "r")]
    [text] = given  # one full-grammar parse, without the block the fast reader read
    assert "aws_s3_bucket" not in text and "for k, v" in text
    assert len(text) == len(_FOR_AND_PLAIN_BLOCKS) and text.count("\n") == _FOR_AND_PLAIN_BLOCKS.count("\n")
    texts = {"m/main.tf": _FOR_AND_PLAIN_BLOCKS}
    assert _evaluate_all(True, texts, monkeypatch) == _evaluate_all(False, texts, monkeypatch)


def test_a_malformed_file_read_in_part_by_the_fast_reader_reports_the_full_grammars_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _FOR_AND_PLAIN_BLOCKS + 'resource "aws_s3_bucket" "c" {\n  acl =\n}\n'
    split = hcl_fast.parse_blocks(text)
    assert split is not None and [node is None for _, _, node in split] == [True, False, True, True]
    found = {}
    for fast in (True, False):
        monkeypatch.setattr(terraform, "FAST", fast)
        found[fast] = terraform.parse_files({"m/main.tf": text})
    assert found[True] == found[False]
    resources, [(path, message)] = found[True]
    assert resources == [] and path == "m/main.tf" and "line 18: invalid HCL" in message


def test_lines_inside_jsonencode_and_json_heredocs() -> None:
    rs = _parse(
        {
            "m/main.tf": """
            resource "aws_iam_policy" "a" {
              policy = jsonencode({
                Version = "2012-10-17"
                Statement = [
                  {
                    Effect = "Allow"
                    Action = ["iam:PassRole"]
                  },
                ]
              })
            }
            resource "aws_iam_policy" "b" {
              policy = <<-EOT
                {
                  "Statement": [{"Effect": "Allow",
                                 "Action": "*"}]
                }
              EOT
            }
        """
        }
    )
    a = rs["aws_iam_policy.a"]
    assert a.line_of("policy.Statement.0.Action") == 7 and a.line_of("policy.Version") == 3
    b = rs["aws_iam_policy.b"]
    assert b.line_of("policy.Statement.0.Action") == 16 and b.line_of("policy") == 13


def test_policy_document_source_and_override_documents() -> None:
    rs = _parse(
        {
            "m/main.tf": """
            data "aws_iam_policy_document" "base" {
              statement {
                actions   = ["iam:PassRole"]
                resources = ["*"]
              }
            }
            data "aws_iam_policy_document" "full" {
              source_policy_documents = [data.aws_iam_policy_document.base.json]
              statement {
                actions   = ["lambda:CreateFunction", "lambda:InvokeFunction"]
                resources = ["*"]
              }
            }
            resource "aws_iam_policy" "p" {
              policy = data.aws_iam_policy_document.full.json
            }
        """
        }
    )
    actions = [s["Action"] for s in rs["aws_iam_policy.p"].attributes["policy"]["Statement"]]
    assert actions == [["iam:PassRole"], ["lambda:CreateFunction", "lambda:InvokeFunction"]]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("var.on ? 1 : 0", 1),
        ("!var.on", False),
        ("var.off || var.on", True),
        ("var.off && var.unset", False),
        ("var.on || var.unset", True),
        ('length(var.names) == 2 ? "two" : "other"', "two"),
        ("length(var.names) * 3 - 1", 5),
        ('lookup(var.tags, "env", "none")', "prod"),
        ('lookup(var.tags, "team", "none")', "none"),
        ('contains(var.names, "b")', True),
        ('coalesce("", "x")', "x"),
        ('one(["only"])', "only"),
        ("one([])", None),
        ('merge(var.tags, { b = "c" })', {"env": "prod", "b": "c"}),
        ('join("-", var.names)', "a-b"),
        ('try(var.tags.env, "dflt")', "prod"),
        ("var.names[1]", "b"),
        ('var.tags["env"]', "prod"),
        ("(1 + 2) * 2 >= 6", True),
        ('upper(var.tags.env) != "PROD"', False),
        ('[for n in var.names : upper(n) if n != "a"]', ["B"]),
        ("{ for k, v in var.tags : k => length(v) }", {"env": 4}),
        ("{ for k, v in var.tags : k => v if var.off }", {}),
        ("[for i, n in var.names : i]", [0, 1]),
        ("[for n in var.unset : n]", "unknown"),
        # functions registry modules use to build rule lists and names
        ('sort(compact(distinct(concat(["b", "a"], var.names, [""]))))', ["a", "b"]),
        ("min(3, 5)", 3),
        ('max(var.names[0] == "a" ? 7 : 1, 2)', 7),
        ('title(lower("ENABLED"))', "Enabled"),
        ('slice(["x", "y", "z"], 0, var.on ? 2 : 1)', ["x", "y"]),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ("range(3)", [0, 1, 2]),
        ("coalescelist([], var.names)", ["a", "b"]),
        ('jsondecode("{\\"a\\": [1]}")', {"a": [1]}),
        # try() and can(): a missing attribute or key is an error (the next argument is
        # taken), an unknown value is not
        ('try(var.tags.team, "dflt")', "dflt"),
        ('try(var.tags["team"], var.names[5], null)', None),
        ("try(jsondecode(var.names), var.names)", ["a", "b"]),
        ('try(lookup(var.tags, "team"), "none")', "none"),
        ("try(var.unset.x, 1)", "unknown"),
        ("can(var.tags.env)", True),
        ("can(var.tags.team)", False),
        ("can(tostring(var.tags))", False),
    ],
)
def test_expressions_modules_use_are_evaluated(expr: str, expected: object) -> None:
    rs = _parse(
        {
            "m/main.tf": f"""
            variable "on" {{
              default = true
            }}
            variable "off" {{
              default = false
            }}
            variable "unset" {{}}
            variable "names" {{
              default = ["a", "b"]
            }}
            variable "tags" {{
              default = {{ env = "prod" }}
            }}
            resource "null_resource" "r" {{
              v = {expr}
            }}
        """
        }
    )
    value = rs["null_resource.r"].attributes["v"]
    if expected == "unknown":
        assert isinstance(value, Unknown)
    else:
        assert value == expected


@pytest.mark.parametrize(
    "expr",
    [
        'try(aws_s3_bucket.this[0].id, "")',
        "one(aws_s3_bucket.this[*].id)",
        "element(aws_s3_bucket.this.*.id, 0)",
        "aws_s3_bucket.this[0].id",
        "var.on ? aws_s3_bucket.this[0].id : null",
        "coalesce(aws_s3_bucket.this[0].id)",
    ],
)
def test_references_through_functions_keep_their_target(expr: str) -> None:
    """A companion naming its bucket through try()/one()/splats still joins it."""
    rs = _parse(
        {
            "m/main.tf": f"""
            variable "on" {{
              default = true
            }}
            resource "aws_s3_bucket" "this" {{
              count  = 1
              bucket = "b"
            }}
            resource "aws_s3_bucket_versioning" "v" {{
              bucket = {expr}
            }}
        """
        }
    )
    value = rs["aws_s3_bucket_versioning.v"].attributes["bucket"]
    assert isinstance(value, Unknown) and value.ref == "aws_s3_bucket.this"


def test_every_instance_of_count_and_for_each_is_evaluated() -> None:
    """`count = 3`: three resources (`x[0]`...), each with its own `count.index`; a `for_each`
    over several keys: one per key (`x["key"]`); a single instance keeps the plain address."""
    rs = _parse(
        {
            "m/main.tf": """
            variable "rules" {
              default = ["http", "mysql"]
            }
            variable "ports" {
              default = { http = 80, mysql = 3306 }
            }
            resource "aws_security_group_rule" "by_count" {
              count     = length(var.rules)
              from_port = var.ports[var.rules[count.index]]
            }
            resource "aws_security_group_rule" "by_key" {
              for_each  = var.ports
              from_port = each.value
            }
            resource "aws_security_group_rule" "one" {
              count     = 1
              from_port = count.index
            }
        """
        }
    )
    assert rs["aws_security_group_rule.by_count[0]"].attributes["from_port"] == 80
    assert rs["aws_security_group_rule.by_count[1]"].attributes["from_port"] == 3306
    assert rs['aws_security_group_rule.by_key["mysql"]'].attributes["from_port"] == 3306
    assert rs['aws_security_group_rule.by_key["http"]'].attributes["from_port"] == 80
    assert rs["aws_security_group_rule.one"].attributes["from_port"] == 0
    assert not any(r.extra.get("instances") for r in rs.values())


@pytest.mark.parametrize(("cap", "count"), [(None, 100), (None, 1500), (32, 100)])
def test_instances_beyond_the_cap_are_reported_not_unknown(cap: int | None, count: int) -> None:
    """`count = N` is known: the block exists (no low confidence); every instance up to
    `max_instances` (default 1,000) is evaluated, those past it are not, and that is said (the
    scan is incomplete)."""
    limits = Limits() if cap is None else Limits(max_instances=cap)
    resources, errors = terraform.parse_files(
        {"m/main.tf": f'resource "aws_instance" "many" {{\n  count = {count}\n}}\n'}, limits=limits
    )
    if count <= limits.max_instances:
        assert len(resources) == count and not errors
        assert {r.extra.get("instances") for r in resources} == {None}
        return
    assert len(resources) == limits.max_instances
    assert {r.extra.get("instances") for r in resources} == {"capped"}
    [(path, message)] = errors
    assert path == "m/main.tf" and "aws_instance.many" in message and str(count) in message


def _unevaluable(text: str) -> tuple[dict[str, Resource], list[tuple[str, str]]]:
    resources, errors = terraform.parse_files({"m/main.tf": textwrap.dedent(text).lstrip()})
    return {r.address: r for r in resources}, errors


@pytest.mark.parametrize(
    "count",
    [
        "length(range(1e9))",  # refused: too long
        "try(length(range(1e9)), 1)",  # try() does not turn a refusal into "unknown at apply time"
        'can(regex("a", "a")) ? 1 : 0',  # a function the evaluator does not implement
        "local.a",  # a cycle between locals (Terraform rejects it)
        "var.from_function",  # a default Terraform would reject, evaluated all the same
        "var.unset ? length(range(1e9)) : 1",  # partly unknown, partly refused: refused wins
        "max(local.big...)",  # syntax the evaluator does not read
        "local.bad_template",  # a template directive
        '"two"',  # a known value Terraform rejects
        "1e999",  # not a finite number (was an internal error: int() of infinity)
        "length(range(1e999))",
        "local.big[1e999]",
        "[1, 2][5] + 1",  # an index past the end, outside try()
    ],
)
def test_a_count_that_could_not_be_evaluated_is_marked_and_reported(count: str) -> None:
    rs, errors = _unevaluable(
        f"""
        variable "unset" {{}}
        variable "from_function" {{
          default = parseint("1", 10)
        }}
        locals {{
          a            = local.b + 1
          b            = local.a
          big          = [1, 2]
          bad_template = "%{{ if true }}1%{{ endif }}"
        }}
        resource "aws_instance" "x" {{
          count = {count}
        }}
        """
    )
    assert rs["aws_instance.x"].extra["instances"] == "unevaluated"
    [(path, message)] = [e for e in errors if "aws_instance.x" in e[1]]
    assert path == "m/main.tf" and "count" in message and "could not be evaluated" in message


def test_templates_in_a_for_body_are_evaluated_not_refused() -> None:
    """`{ for s in var.subnets : "${s.name}-${s.az}" => s }` is how modules key their
    instances: it must be evaluated (a refusal there would make the scan incomplete)."""
    rs, errors = _unevaluable(
        """
        variable "subnets" {
          default = [{ name = "a", az = "eu-west-1a" }, { name = "b", az = "eu-west-1b" }]
        }
        variable "unset" {}
        resource "aws_subnet" "x" {
          for_each   = { for s in var.subnets : "${s.name}-${s.az}" => s }
          cidr_block = "10.0.0.0/24"
          tags = {
            Name    = [for s in var.subnets : "subnet $${literal} ${s.name}/${upper(s.az)}"][1]
            Pending = [for s in var.subnets : "${s.name}-${var.unset}"][0]
          }
        }
        """
    )
    assert errors == []
    assert set(rs) == {'aws_subnet.x["a-eu-west-1a"]', 'aws_subnet.x["b-eu-west-1b"]'}
    tags = rs['aws_subnet.x["a-eu-west-1a"]'].attributes["tags"]
    assert tags["Name"] == "subnet ${literal} b/EU-WEST-1B"
    assert type(tags["Pending"]) is Unknown  # supplied at apply time, not refused


def test_a_tfvars_value_the_evaluator_gives_up_on_stays_unevaluated_when_read() -> None:
    """tfvars hold literals in Terraform; an expression there is evaluated all the same, and a
    refusal in it is not forgotten when a `count` reads the variable."""
    resources, errors = terraform.parse_files(
        {
            "m/main.tf": 'variable "n" {}\nresource "aws_instance" "x" {\n  count = var.n\n}\n',
            "m/terraform.tfvars": 'n = parseint("1", 10)\n',
        }
    )
    [x] = resources
    assert x.extra["instances"] == "unevaluated"
    assert [p for p, m in errors if "aws_instance.x" in m and "parseint" in m] == ["m/main.tf"]


@pytest.mark.parametrize(
    "count",
    [
        "var.unset ? 1 : 0",
        "length(data.aws_subnets.x.ids)",
        "module.external.n",
        'aws_instance.other.id == "" ? 0 : 1',
        # declared in a file this scan may not see (a partial checkout): not a refusal
        "var.undeclared",
        "local.undeclared",
    ],
)
def test_a_count_unknown_until_apply_stays_unknown_and_is_not_reported(count: str) -> None:
    rs, errors = _unevaluable(
        f"""
        variable "unset" {{}}
        module "external" {{
          source = "terraform-aws-modules/x/aws"
        }}
        resource "aws_instance" "other" {{}}
        resource "aws_instance" "x" {{
          count = {count}
        }}
        """
    )
    assert rs["aws_instance.x"].extra["instances"] == "unknown"
    assert errors == []


def test_values_fixed_by_the_file_but_not_computed_are_marked_unevaluated() -> None:
    """An attribute the evaluator could not compute from known inputs carries `Unevaluated`
    (rules read it as unknown; the scanner does not lower a finding on it); one that depends
    on an input supplied at apply time stays a plain `Unknown`."""
    rs, errors = _unevaluable(
        """
        variable "unset" {}
        resource "aws_security_group" "x" {
          ingress {
            cidr_blocks      = [cidrsubnet("0.0.0.0/0", 0, 0), var.unset]
            ipv6_cidr_blocks = [var.unset]
          }
          dynamic "egress" {
            for_each = toset([replace("0.0.0.0/0", "x", "y")])
            content {
              cidr_blocks = [egress.value]
            }
          }
          dynamic "ingress" {
            for_each = regexall("[0-9./]+", "0.0.0.0/0")
            content {
              cidr_blocks = [ingress.value]
            }
          }
        }
        """
    )
    attrs = rs["aws_security_group.x"].attributes
    fixed, beside = attrs["ingress"][0]["cidr_blocks"]
    assert isinstance(fixed, Unevaluated) and "cidrsubnet" in fixed.expr
    assert isinstance(beside, Unevaluated)  # an attribute is marked as a whole (fail closed)
    [supplied] = attrs["ingress"][0]["ipv6_cidr_blocks"]
    assert isinstance(supplied, Unknown) and not isinstance(supplied, Unevaluated)
    assert isinstance(attrs["egress"][0]["cidr_blocks"][0], Unevaluated)
    assert isinstance(attrs["ingress"][1]["cidr_blocks"][0], Unevaluated)
    # only a `dynamic` whose set of blocks is not known is reported here; attributes (and the
    # values of known blocks) are reported by the scanner when a rule reads them
    [(path, message)] = errors
    assert path == "m/main.tf" and 'dynamic "ingress"' in message and "for_each" in message


def test_policy_statements_from_a_module_input_map_are_resolved() -> None:
    """The lambda/iam modules' `dynamic "statement"` over a map of statements, with
    `try(statement.value.not_actions, null)`: absent keys are unset, not unknown."""
    rs = _parse(
        {
            "m/main.tf": """
            variable "policy_statements" {
              default = {
                dynamodb = {
                  effect    = "Allow"
                  actions   = ["dynamodb:BatchWriteItem"]
                  resources = ["arn:aws:dynamodb:eu-west-1:111122223333:table/t"]
                }
              }
            }
            data "aws_iam_policy_document" "inline" {
              dynamic "statement" {
                for_each = var.policy_statements
                content {
                  effect      = try(statement.value.effect, null)
                  actions     = try(statement.value.actions, null)
                  not_actions = try(statement.value.not_actions, null)
                  resources   = try(statement.value.resources, null)
                  dynamic "principals" {
                    for_each = try(statement.value.principals, [])
                    content {
                      type        = principals.value.type
                      identifiers = principals.value.identifiers
                    }
                  }
                }
              }
            }
            resource "aws_iam_role_policy" "inline" {
              policy = data.aws_iam_policy_document.inline.json
            }
        """
        }
    )
    assert rs["aws_iam_role_policy.inline"].attributes["policy"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:BatchWriteItem"],
            "Resource": ["arn:aws:dynamodb:eu-west-1:111122223333:table/t"],
        }
    ]
