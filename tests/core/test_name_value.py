"""``NAME=VALUE`` option values: split at the first ``=``, one error shape for every option."""
import pytest

from uhr4k.core.errors import InputError
from uhr4k.core.name_value import parse_name_value, split_name_value


def test_split_at_the_first_equals_sign():
    assert split_name_value("glsgn=runs/a=b.pt") == ("glsgn", "runs/a=b.pt")
    assert split_name_value("width=") == ("width", "")
    assert split_name_value("runs/best.pt") is None


def test_one_message_shape_naming_the_option_and_the_form():
    assert parse_name_value("glsgn=runs/x.pt", "--checkpoint", "NAME=PATH") == ("glsgn", "runs/x.pt")
    for bad in ("x", "=x", "x="):
        with pytest.raises(InputError) as exc:
            parse_name_value(bad, "--checkpoint", "NAME=PATH")
        assert str(exc.value) == f"--checkpoint must be NAME=PATH, got {bad!r}"
    # an option with its own rule: an empty value is fine, the name must be an identifier
    identifier = dict(valid=lambda key, value: key.isidentifier())
    assert parse_name_value("pn=", "--model-arg", "KEY=VALUE", **identifier) == ("pn", "")
    with pytest.raises(InputError, match=r"^--model-arg must be KEY=VALUE, got '2x=3'$"):
        parse_name_value("2x=3", "--model-arg", "KEY=VALUE", **identifier)
