"""Cleaning keeps Polish text intact and repairs only what is broken."""
import unicodedata

from training.corpus.clean import clean_text


def clean(text: str) -> str:
    return clean_text(text)[0]


def test_diacritics_and_punctuation_survive():
    text = "Zażółć gęślą jaźń! „Cytat” – myślnik… (nawias) 12,5%."
    assert clean(text) == text


def test_nfc_and_invisible_characters():
    decomposed = unicodedata.normalize("NFD", "źdźbło")
    assert clean(decomposed) == "źdźbło"
    assert clean("nie\u00adwidoczny\u200b znak\ufeff") == "niewidoczny znak"


def test_control_characters_are_removed_but_newlines_kept():
    assert clean("Ala\x07 ma\x00 kota.\r\nKot ma Alę.") == "Ala ma kota.\nKot ma Alę."


def test_whitespace_is_normalized():
    assert clean("  Ala\u00a0\u00a0ma \t kota.  \n\n\n\n\nNowy akapit. ") == "Ala ma kota.\n\nNowy akapit."


def test_hard_wrapped_prose_is_reflowed_and_dehyphenated():
    wrapped = ("Stary młynarz wstawał zawsze przed świtem i szedł nad\n"
               "rzekę, żeby sprawdzić, czy woda nie podmyła grobli ani prze-\n"
               "pustu.\n\nNastępny akapit.")
    assert clean(wrapped) == ("Stary młynarz wstawał zawsze przed świtem i szedł nad rzekę, żeby sprawdzić, "
                              "czy woda nie podmyła grobli ani przepustu.\n\nNastępny akapit.")


def test_verse_dialogue_and_lists_keep_their_lines():
    verse = "Litwo! Ojczyzno moja! ty jesteś jak zdrowie,\nIle cię trzeba cenić, ten tylko się dowie"
    assert clean(verse) == verse
    dialogue = "– Dzień dobry, pani Jadwigo, jak się pani dzisiaj czuje?\n– Dziękuję, dobrze."
    assert clean(dialogue) == dialogue


def test_short_boilerplate_lines_are_dropped_and_counted():
    text, removed = clean_text("Ta strona używa plików cookies.\nWłaściwa treść artykułu.\nWłącz JavaScript.")
    assert text == "Właściwa treść artykułu."
    assert removed == 2


def test_sentencepiece_space_marker_is_replaced():
    assert "\u2581" not in clean("a\u2581b")
