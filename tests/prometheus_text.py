"""Metrics read back as Prometheus reads them: the client library's own parser of the text exposition format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parsed(text: str) -> Samples:
    """Every sample: (name, sorted labels) -> value; a counter's samples are named with their _total suffix."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The one sample of NAME whose labels include LABELS (an assertion names what was there instead)."""
    matches = [v for (n, found), v in samples.items() if n == name and labels.items() <= dict(found).items()]
    assert len(matches) == 1, (name, labels, samples)
    return matches[0]
