"""One typed settings model (greendoor.config.Settings) is the single source of every
threshold (issue 22): each declared setting is read somewhere, no rule or page holds
a threshold of its own, and the rules' thresholds come from their declarations."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from greendoor import config, rules

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for d in ("src/greendoor", "app", "pages") for p in (ROOT / d).rglob("*.py")
        if p.name not in ("config.py",) and "migrations" not in p.parts]
#: Paths read by iteration rather than by name (every measure and weight is used).
ITERATED = ("health.measures", "health.weights", "health.segment_weights")


def leaves(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += leaves(ann, path + ".")
        else:
            out.append(path)
    return out


@pytest.mark.parametrize("path", [p for p in leaves(config.Settings)
                                  if not p.startswith(ITERATED)])
def test_every_declared_setting_is_read(path):
    key = path.rsplit(".", 1)[-1]
    # read as settings[...][key], .get(key), or a rule's ctx.t(key, i) (its per-segment value)
    pattern = re.compile(rf"""\[\s*["']{re.escape(key)}["']\s*\]|(get|ctx\.t)\(\s*["']{re.escape(key)}["']""")
    readers = [p for p in CODE if pattern.search(p.read_text())]
    assert readers, f"the setting {path} is declared but never read"


def _threshold_literals(path: Path) -> list[str]:
    """Comparisons against a number other than 0, 1, -1 or the 100 of a 0-100 scale
    (lengths of sequences aside)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        if isinstance(node.left, ast.Call) and getattr(node.left.func, "id", "") == "len":
            continue
        for c in [node.left, *node.comparators]:
            if isinstance(c, ast.Constant) and isinstance(c.value, int | float) \
                    and not isinstance(c.value, bool) and c.value not in (0, 1, -1, 100):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


ANALYTICS = ROOT / "src/greendoor/analytics"
RULE_FILES = [ROOT / "src/greendoor/rules.py", ROOT / "src/greendoor/scoring/alerts.py",
              ANALYTICS / "this_week.py", ANALYTICS / "expansion.py", ANALYTICS / "churn_risk.py",
              ANALYTICS / "portfolio_health.py", *sorted((ROOT / "pages").glob("*.py"))]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_no_threshold_literal_in_rules_or_pages(path):
    assert _threshold_literals(path) == []


def test_the_check_finds_a_literal(tmp_path):
    bad = tmp_path / "page.py"
    bad.write_text("if x['seat_utilization'] > 0.8:\n    pass\n")
    assert _threshold_literals(bad) == ["page.py:1: x['seat_utilization'] > 0.8"]


def test_rule_thresholds_come_from_their_declarations():
    fields = config.Rules.model_fields
    assert set(fields) == {t.name for t in rules.all_thresholds()}
    t = next(t for t in rules.all_thresholds() if t.name == "warning_login_drop")
    info = config.setting_info("rules.warning_login_drop")
    assert info == {"help": t.help, "unit": "share", "ge": 0.0, "le": 1}
    assert config.DEFAULT_SETTINGS["rules"]["tickets_spike_min_tickets"] == 3  # an int
    with pytest.raises(Exception, match="warning_login_drop"):
        config.Settings.model_validate({**config.DEFAULT_SETTINGS,
                                        "rules": {**config.DEFAULT_SETTINGS["rules"],
                                                  "warning_login_drop": 5}})


def test_an_old_stored_version_gains_the_new_settings_with_their_defaults():
    old = {"health": {"bands": {"green": 85, "yellow": 55}}, "rules": {"checkin_no_contact_days": 21}}
    merged = config.merge_settings(old)
    config.Settings.model_validate(merged)
    assert merged["health"]["bands"] == {"green": 85, "yellow": 55}
    assert merged["rules"]["checkin_no_contact_days"] == 21
    assert merged["models"]["queue_min_risk_index"] == 90.0


def test_a_map_edited_as_a_whole_keeps_its_removals():
    """A competitor removed from the share of voice stays removed (maps of WHOLE_MAPS are
    not merged key by key with their defaults), while a setting missing from an older
    stored version still takes its default."""
    stored = config.default_settings()
    stored["mentions"]["competitors"] = {"Orbit": ["Orbit"]}
    del stored["mentions"]["alert_days"]
    merged = config.merge_settings(stored)
    assert merged["mentions"]["competitors"] == {"Orbit": ["Orbit"]}
    assert merged["mentions"]["alert_days"] == config.DEFAULT_SETTINGS["mentions"]["alert_days"]
