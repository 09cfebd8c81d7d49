"""The demo network's data file: read into typed records, a mistake named by its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.demo import DATA_FILE, FIRMS, SCHOOLS, DemoDataError, read_content


def test_the_shipped_file_holds_the_network_the_loader_builds_on() -> None:
    content = read_content()
    assert (len(content.firms), len(content.schools)) == (18, 10)
    assert content.firms == FIRMS and content.schools == SCHOOLS
    assert len({f.slug for f in content.firms} | {s.slug for s in content.schools}) == 28
    # Every tour says once what a class visit is (the file keeps that sentence once).
    assert all(t.description.endswith("Schutzbrillen stellen wir.") for f in FIRMS for t in f.tours)
    assert content.network.kind == "network" and content.admin_name


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (('slug = "vogel-cnc"', 'slug = "vogel-cnc"\nceo = "x"'), "firm[8]: unknown key 'ceo'"),
        (("topics = [", "topic = ["), "firm[0].tours[0]: unknown key 'topic'"),
        (('teacher = ["Katrin", "Böhme"]\n', ""), "teacher"),
        (("at = [50.8478, 13.7776]", 'at = ["north", 13.7776]'), "Expected `float`"),
    ],
)
def test_a_mistake_in_the_file_is_refused_with_its_place(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    text = DATA_FILE.read_text(encoding="utf-8")
    assert change[0] in text
    broken = tmp_path / "demo.toml"
    broken.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(DemoDataError) as refused:
        read_content(broken)
    assert named in str(refused.value)
