"""一数一源: base items that several resources hold for the same subject, and their one authoritative source.

An information item declares the base item it holds (`shared: 人口.姓名`) and, on exactly one
resource of the catalogue, that this resource is its authoritative source (`authoritative: true`;
the resource's provider is then the item's 数源部门). The subject's key is derived, not declared:
the resource's item validated as the subject's identifier (a resident ID for 人口, a unified social
credit code for 法人). The daily conflict check (warehouse.conflicts) compares every other holder's
value with the authoritative one on that key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

#: subject → the validator of the item that identifies it (its key in every holder).
SUBJECTS = {"人口": "resident_id", "法人": "uscc"}


@dataclass(frozen=True)
class Holder:
    """One resource holding a base item: which item carries it, on which key, and whether it is the 数源."""

    base_item: str
    resource_id: str
    department_id: str
    item: str
    key: str
    authoritative: bool


def subject_of(base_item: str) -> str | None:
    """The subject of `人口.姓名` (人口), or None when the name is not `<known subject>.<item>`."""
    subject, dot, name = base_item.partition(".")
    return subject if dot and name.strip() and subject in SUBJECTS else None


def key_item(resource, subject: str) -> str | None:
    """The item of `resource` (seed model or ORM row) that identifies the subject, a key item first."""
    found = [item for item in resource.items if _validator(item) == SUBJECTS[subject]]
    found.sort(key=lambda item: not item.key)
    return found[0].name if found else None


def _validator(item) -> str | None:
    rules = item.rules  # the ORM row keeps a dict, the seed model its ValueRules
    return rules.get("validator") if isinstance(rules, dict) else rules.validator


def holders(resources) -> dict[str, list[Holder]]:
    """Every declared base item → its holders (seed models or ORM rows), authoritative first."""
    found: dict[str, list[Holder]] = defaultdict(list)
    for resource in resources:
        provider = getattr(resource, "provider_id", None) or getattr(resource, "provider", None)
        for item in resource.items:
            subject = subject_of(item.shared) if item.shared else None
            key = key_item(resource, subject) if subject else None
            if key is None:
                continue  # the lint reports it; nothing to compare
            found[item.shared].append(
                Holder(item.shared, resource.id, provider, item.name, key, bool(item.authoritative))
            )
    return {base: sorted(rows, key=lambda h: (not h.authoritative, h.resource_id)) for base, rows in found.items()}


def lint(resources) -> list[tuple[object, object, str, str]]:
    """(resource, item, rule, message) for every broken 一数一源 rule: a base item of an unknown
    subject, a holder without the subject's key, `authoritative` on an item that holds nothing, and a
    base item without exactly one authoritative source."""
    problems: list[tuple[object, object, str, str]] = []
    sources: dict[str, list[tuple[object, object]]] = defaultdict(list)
    for resource in resources:
        for item in resource.items:
            if item.shared is None:
                if item.authoritative:
                    problems.append((resource, item, "shared_item", "authoritative: true needs shared: <base item>"))
                continue
            subject = subject_of(item.shared)
            if subject is None:
                problems.append(
                    (
                        resource,
                        item,
                        "shared_item",
                        f"shared {item.shared!r} must be <subject>.<item> with a "
                        f"subject of {', '.join(SUBJECTS)} (e.g. 人口.姓名)",
                    )
                )
                continue
            if key_item(resource, subject) is None:
                problems.append(
                    (
                        resource,
                        item,
                        "shared_item",
                        f"holds {item.shared} but no item is validated as "
                        f"{SUBJECTS[subject]}: the subject's key is what values are compared on",
                    )
                )
            sources[item.shared].append((resource, item))
    for base, held in sorted(sources.items()):
        named = [(resource, item) for resource, item in held if item.authoritative]
        if len(named) == 1:
            continue
        if not named:
            message = (
                f"{base} is held by {', '.join(resource.id for resource, _ in held)} but none is its authoritative "
                "source: mark the 数源部门's item authoritative: true"
            )
            problems.append((*held[0], "authoritative_source", message))
        for resource, item in named if len(named) > 1 else []:
            others = ", ".join(other.id for other, _ in named if other is not resource)
            message = f"{base} has more than one authoritative source (also {others}): keep one"
            problems.append((resource, item, "authoritative_source", message))
    return problems
