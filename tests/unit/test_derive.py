"""Derivations from a catalogue entry: the same answers for the seed model and the ORM row."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from catalog import derive, models, spec
from hub.topics import prefix

ITEMS = [
    dict(name="gmsfhm", label="公民身份号码", type="C", length=18, nullable=False, key=True, pii="id_number"),
    dict(name="xm", label="姓名", type="C", length=50, pii="name"),
    dict(name="zczb", label="注册资本", type="N", length=18),
    dict(name="csrq", label="出生日期", type="D"),
    dict(name="djsj", label="登记时间", type="T"),
    dict(name="zxbz", label="注销标志", type="L"),
    dict(name="hs", label="户数", type="I"),
    dict(name="jd", label="经度", type="F"),
    dict(name="wd", label="纬度", type="B"),
]


def spec_resource(items=ITEMS) -> spec.Resource:
    return spec.Resource(
        id="hjrk_jbxx",
        code="101001/000001",
        name="户籍人口基本信息",
        provider="gaj",
        classification="基础/人口/户籍人口",
        abstract="户籍人口",
        format="数据库",
        domain="population",
        update_cycle="每日",
        sharing_type="有条件共享",
        sharing_condition="按需",
        open_type="不开放",
        release_date=date(2024, 1, 1),
        items=[spec.Item(**item) for item in items],
    )


def orm_resource(items=ITEMS) -> models.Resource:
    return models.Resource(
        id="hjrk_jbxx",
        items=[
            models.Item(position=i, **{"nullable": True, "key": False, "pii": "none", **item})
            for i, item in enumerate(items)
        ],
    )


@pytest.fixture(params=["spec", "orm"])
def resource(request):
    return spec_resource() if request.param == "spec" else orm_resource()


def test_type_mapping_follows_the_documented_table(resource):
    schema = derive.arrow_schema(resource, envelope=False)
    assert [(f.name, f.type) for f in schema] == [
        ("gmsfhm", pa.string()),
        ("xm", pa.string()),
        ("zczb", pa.float64()),
        ("csrq", pa.date32()),
        ("djsj", pa.timestamp("us", tz="Asia/Shanghai")),
        ("zxbz", pa.bool_()),
        ("hs", pa.int64()),
        ("jd", pa.float64()),
        ("wd", pa.float64()),
    ]


def test_envelope_columns_follow_the_items(resource):
    schema = derive.arrow_schema(resource)
    assert schema.names[-len(derive.ENVELOPE_COLUMNS) :] == list(derive.ENVELOPE_COLUMNS)
    assert schema.field("_event_time").type == pa.timestamp("us", tz="UTC")
    assert schema.metadata[b"hub.resource"] == b"hjrk_jbxx"


def test_keys_are_never_nullable_and_metadata_says_pii(resource):
    schema = derive.arrow_schema(resource)
    assert not schema.field("gmsfhm").nullable
    assert schema.field("xm").nullable
    assert schema.field("xm").metadata[b"pii"] == b"name"
    assert schema.field("xm").metadata[b"label"] == "姓名".encode()


def test_spec_and_orm_give_identical_schemas():
    assert derive.arrow_schema(spec_resource()).equals(derive.arrow_schema(orm_resource()), check_metadata=True)


def test_topics_tables_keys_pii(resource):
    assert derive.topics(resource) == (f"{prefix()}hub.raw.hjrk_jbxx", f"{prefix()}hub.dlq.hjrk_jbxx")
    names = derive.table_names(resource)
    assert names == ("raw.hjrk_jbxx", "staging.hjrk_jbxx")
    assert derive.quoted(names.staging) == '"staging"."hjrk_jbxx"'
    assert derive.key_columns(resource) == ("gmsfhm",)
    assert derive.pii_columns(resource) == {"gmsfhm": "id_number", "xm": "name"}


def test_fingerprint_tracks_shape_not_labels():
    base = derive.schema_fingerprint(spec_resource())
    relabelled = [dict(item, label="别名") for item in ITEMS]
    retyped = [dict(ITEMS[0], type="I"), *ITEMS[1:]]
    assert derive.schema_fingerprint(spec_resource(relabelled)) == base
    assert derive.schema_fingerprint(spec_resource(retyped)) != base
    assert derive.schema_fingerprint(orm_resource()) == base


def test_unknown_item_type_names_the_item():
    with pytest.raises(derive.UnknownItemType, match="'xm'.*'X'"):
        derive.arrow_schema(orm_resource([dict(name="xm", label="姓名", type="X")]))


def test_every_seed_resource_derives_a_schema():
    from pathlib import Path

    seed = Path(__file__).resolve().parents[2] / "catalog" / "seed"
    if not (seed / "departments.yaml").is_file():
        pytest.skip("catalog/seed/departments.yaml is not there yet")
    for resource in spec.load_catalogue(seed).resources:
        schema = derive.arrow_schema(resource)
        assert schema.names[: len(resource.items)] == [item.name for item in resource.items]
        assert derive.topics(resource)[0] == f"{prefix()}hub.raw.{resource.id}"
