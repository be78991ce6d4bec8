"""OData query options as pure functions: properties of $filter, paging and $select."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.graph import odata
from fakes.graph.errors import GraphError

PROPS = ("id", "displayName", "accountEnabled", "age", "mail")
names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12)
rows = st.lists(
    st.fixed_dictionaries(
        {
            "displayName": names,
            "accountEnabled": st.booleans(),
            "age": st.integers(0, 99),
            "mail": st.none() | names,
        }
    ),
    max_size=30,
).map(lambda items: [dict(r, id=str(i)) for i, r in enumerate(items)])


def run(items, **params):
    q = odata.parse_query({f"${k}": v for k, v in params.items()}, PROPS, "microsoft.graph.user")
    return odata.apply(items, q)


@given(rows, names)
def test_eq_matches_case_insensitively_with_quote_escaping(items, name):
    literal = name.replace("'", "''")
    page, _, total = run(items, filter=f"displayName eq '{literal}'", top="999")
    assert [r["id"] for r in page] == [r["id"] for r in items if r["displayName"].lower() == name.lower()]
    assert total == len(page)


@given(rows, st.integers(0, 99))
def test_boolean_and_numeric_logic(items, age):
    page, _, _ = run(items, filter=f"accountEnabled eq true and (age ge {age} or mail eq null)", top="999")
    expected = [r for r in items if r["accountEnabled"] and (r["age"] >= age or r["mail"] is None)]
    assert page == expected
    negated, _, _ = run(
        items, filter=f"not (accountEnabled eq true and (age ge {age} or mail eq null))", top="999"
    )
    assert len(page) + len(negated) == len(items)


@given(rows, st.integers(1, 7))
def test_paging_visits_every_item_once(items, top):
    seen, skip = [], 0
    for _ in range(40):
        q = odata.Query(None, None, top, skip, None, False)
        page, nxt, _ = odata.apply(items, q)
        seen += [r["id"] for r in page]
        if nxt is None:
            break
        assert odata.decode_skiptoken(odata.encode_skiptoken(nxt)) == nxt
        skip = nxt
    assert seen == [r["id"] for r in items]


@pytest.mark.parametrize(
    "expr",
    [
        "displayName eq",
        "nosuch eq 1",
        "displayName wat 'x'",
        "(age eq 1",
        "startswith(age, 3)",
        "age eq 'x' extra",
        "'x' eq displayName",
        "@@",
    ],
)
def test_invalid_filters_are_graph_400(expr):
    with pytest.raises(GraphError) as exc:
        run([], filter=expr)
    assert exc.value.status == 400 and exc.value.message.startswith("Invalid filter clause")


def test_select_validation_and_projection():
    assert odata.parse_select("DISPLAYNAME, id", PROPS, "t") == ("displayName", "id")
    with pytest.raises(GraphError) as exc:
        odata.parse_select("id,nope", PROPS, "microsoft.graph.user")
    assert "Could not find a property named 'nope' on type 'microsoft.graph.user'" in exc.value.message
    assert odata.project({"id": 1, "mail": 2, "age": 3}, ("mail",)) == {"mail": 2}


@given(st.text(max_size=60))
def test_filter_parser_never_crashes(text):
    try:
        run([{"id": "1", "displayName": "a", "accountEnabled": True, "age": 1, "mail": None}], filter=text)
    except GraphError as exc:
        assert exc.status == 400


@given(rows, st.sampled_from([{}, {"filter": "accountEnabled eq true"}, {"orderby": "displayName desc"},
                              {"filter": "age ge 50", "orderby": "mail"}]),
       st.integers(1, 40), st.integers(0, 40))
def test_shaping_only_the_page_answers_as_shaping_every_item(items, options, top, skip):
    # Objects shaped into dicts on demand (the users route): without $filter/$orderby only the
    # page is shaped, and the answer is the one shaping everything first gives.
    q = odata.parse_query({**{f"${k}": v for k, v in options.items()}, "$top": str(top),
                           "$skiptoken": odata.encode_skiptoken(skip)}, PROPS, "microsoft.graph.user")
    objects = [tuple(sorted(r.items())) for r in items]
    shaped: list[object] = []

    def shape(o):
        shaped.append(o)
        return dict(o)

    assert odata.apply(objects, q, shape) == odata.apply([dict(o) for o in objects], q)
    if not options:
        assert shaped == objects[skip:skip + top]
