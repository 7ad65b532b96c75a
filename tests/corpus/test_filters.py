"""Each filter rejects what it is for and keeps ordinary Polish prose."""
import pytest

from tests.polish_text import polish_paragraphs
from training.config import CorpusConfig
from training.corpus.dedup import Deduplicator, content_hash, minhash_signature
from training.corpus.filters import language_sample, reject_reason

CONFIG = CorpusConfig(min_chars=50)
PROSE = " ".join(polish_paragraphs()[:3])


def test_polish_prose_is_kept():
    kept = [p for p in polish_paragraphs() if len(p) >= 200]
    assert kept and all(reject_reason(p, CONFIG) is None for p in kept)


@pytest.mark.parametrize("text, reason", [
    ("Za krótko.", "too_short"),
    (PROSE + " Lorem ipsum dolor sit amet.", "lorem_ipsum"),
    ("{}<>|#@$^&*~{}<>|#@$^&* " * 10 + PROSE[:200], "symbol_ratio"),
    ("1234 5678 9012 3456 7890 " * 20 + PROSE[:100], "digit_ratio"),
    ("a i o u w z " * 40, "mean_word_length"),
    ("Nowa linia tekstu, która się powtarza.\n" * 10 + PROSE[:100], "repeated_lines"),
    ("Ten sam akapit, który wraca.\nI jego druga linia.\n\n" * 4 + PROSE[:200], "repeated_paragraphs"),
    ("The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden porch. " * 4, "not_polish"),
    ("Dnes ráno jsem šel do obchodu koupit chleba, mléko a sýr, ale obchod byl zavřený kvůli svátku. " * 3, "not_polish"),
])
def test_each_filter_catches_its_case(text, reason):
    assert reject_reason(text, CONFIG) == reason


def test_language_sample_is_bounded_and_spans_the_document():
    text = "początek " + "środek " * 10_000 + "koniec"
    sample = language_sample(text, 600)
    assert len(sample) <= 602 and sample.startswith("początek") and sample.endswith("koniec")


def test_exact_and_near_duplicates():
    dedup = Deduplicator(CONFIG)
    text = polish_paragraphs()[5] + " " + polish_paragraphs()[6]
    near = text + " I tak się to skończyło."
    other = polish_paragraphs()[20] + " " + polish_paragraphs()[21]
    assert dedup.check(content_hash(text), minhash_signature(text, CONFIG)) is None
    assert dedup.check(content_hash("  " + text.upper()), minhash_signature(text, CONFIG)) == "exact_dup"
    assert dedup.check(content_hash(near), minhash_signature(near, CONFIG)) == "near_dup"
    assert dedup.check(content_hash(other), minhash_signature(other, CONFIG)) is None


def test_huge_documents_keep_near_duplicate_detection_under_a_shift(monkeypatch):
    import training.corpus.dedup as dedup_module

    monkeypatch.setattr(dedup_module, "MAX_SHINGLES", 50)  # force subsampling on a small text
    text = " ".join(polish_paragraphs()[:8])
    shifted = "Na początku dodano kilka nowych słów. " + text
    assert len(dedup_module.shingles(text, 5)) < 200
    a, b = minhash_signature(text, CONFIG), minhash_signature(shifted, CONFIG)
    assert a.jaccard(b) > 0.8
