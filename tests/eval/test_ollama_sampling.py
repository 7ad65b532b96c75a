"""benchmarks/ollama_sampling.py: the variant Modelfiles it registers."""
import sys
from pathlib import Path

import pytest

from training.export.modelfile import parse_modelfile, read_modelfile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from ollama_sampling import parse_variant, variant_modelfile  # noqa: E402

SHIPPED = ROOT / "modelfiles" / "polski-mini" / "Modelfile"


def test_a_variant_replaces_only_its_settings_and_points_at_the_same_gguf():
    name, params = parse_variant("w16:repeat_last_n=16,repeat_penalty=1.2,temperature=0.5")
    assert name == "w16" and params == {"repeat_last_n": 16, "repeat_penalty": 1.2, "temperature": 0.5}
    shipped = read_modelfile(SHIPPED)
    variant = parse_modelfile(variant_modelfile(SHIPPED, params, num_thread=1))
    assert Path(variant.from_) == (ROOT / "modelfiles" / "polski-mini" / "polski-mini.gguf").resolve()
    assert variant.parameters["repeat_last_n"] == 16 and variant.parameters["repeat_penalty"] == 1.2
    assert variant.parameters["num_thread"] == 1
    assert variant.parameters["temperature"] == 0.5 and variant.parameters["top_p"] == shipped.parameters["top_p"]
    assert variant.template == shipped.template and variant.system == shipped.system
    assert variant.parameters["stop"] == shipped.parameters["stop"]
    unchanged = parse_modelfile(variant_modelfile(SHIPPED, parse_variant("shipped:")[1], num_thread=None))
    assert unchanged.parameters == shipped.parameters


@pytest.mark.parametrize("text, error", [("Bad Name:", "variant name"), ("x:repeat_last_n", "key=value")])
def test_bad_variants_name_the_fix(text, error):
    with pytest.raises(SystemExit, match=error):
        parse_variant(text)
