"""A declaration with a mistake is refused with its file, line and key, before anything uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmonia.app import create_app
from harmonia.schema import built_in_type_names
from harmonia.sources.declared.loader import DeclarationError, load_folder, parse_declarations
from tests.conftest import SHIPPED_DIR, declared_settings, gateway_settings

KLAVIYO = (Path(SHIPPED_DIR) / "klaviyo.yaml").read_text(encoding="utf-8")
META = (Path(SHIPPED_DIR) / "meta_ads.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def refusal(texts: dict[str, str]) -> DeclarationError:
    with pytest.raises(DeclarationError) as caught:
        parse_declarations(texts, built_in_type_names())
    return caught.value


def test_a_misspelt_key_names_the_file_the_line_and_the_key() -> None:
    text = KLAVIYO.replace("      key: attributes.email\n", "      kee: attributes.email\n")
    error = refusal({"klaviyo.yaml": text})
    assert (error.file, error.line, error.key) == ("klaviyo.yaml", line_of(text, "kee: attributes.email"),
                                                   "types.KlaviyoProfile.batch.kee")
    assert str(error) == f"klaviyo.yaml:{error.line}: types.KlaviyoProfile.batch.kee: unknown key"


def test_a_misspelt_type_names_the_field_and_the_types_there_are() -> None:
    text = KLAVIYO.replace('firstName: {type: String,', 'firstName: {type: Strng,')
    error = refusal({"klaviyo.yaml": text})
    assert error.line == line_of(text, "firstName: {type: Strng")
    assert error.key == "types.KlaviyoProfile.fields.firstName.type"
    assert "unknown type 'Strng'" in error.reason and "String" in error.reason


def test_a_broken_jmespath_is_refused_where_it_is_written() -> None:
    text = KLAVIYO.replace("select: attributes.last_name", "select: attributes..last_name")
    error = refusal({"klaviyo.yaml": text})
    assert error.line == line_of(text, "attributes..last_name")
    assert error.key == "types.KlaviyoProfile.fields.lastName.select"
    assert "JMESPath" in error.reason


def test_a_template_naming_an_undeclared_setting_is_refused() -> None:
    text = META.replace("{settings.ad_account_id}/campaigns", "{settings.ad_acount_id}/campaigns")
    error = refusal({"meta_ads.yaml": text})
    assert error.line == line_of(text, "{settings.ad_acount_id}/campaigns")
    assert error.key == "types.MetaCampaign.list.path" and "ad_acount_id" in error.reason


def test_an_extension_naming_an_unknown_type_or_channel_is_refused() -> None:
    error = refusal({"klaviyo.yaml": KLAVIYO.replace("      type: KlaviyoProfile\n", "      type: KlaviyoProfil\n")})
    assert error.key == "extends.customer.0.type" and "KlaviyoProfil" in error.reason
    error = refusal({"meta_ads.yaml": META.replace("channel: SOCIAL", "channel: TIKTOK")})
    assert error.key == "extends.campaigns.0.channel" and "SOCIAL" in error.reason


def test_two_files_may_not_declare_one_type_nor_shadow_a_built_in_one() -> None:
    error = refusal({"klaviyo.yaml": KLAVIYO, "klaviyo2.yaml": KLAVIYO.replace("name: klaviyo", "name: klaviyo2")})
    assert error.file == "klaviyo2.yaml" and "also declared by klaviyo.yaml" in error.reason
    error = refusal({"k.yaml": KLAVIYO.replace("KlaviyoProfile", "Customer")})
    assert "built-in type" in error.reason


def test_yaml_that_does_not_parse_names_its_line() -> None:
    text = KLAVIYO.replace("  api_key:\n", "  api_key: [\n", 1)
    error = refusal({"klaviyo.yaml": text})
    assert error.file == "klaviyo.yaml" and error.line is not None and "not valid YAML" in error.reason


def test_the_shipped_declarations_are_valid() -> None:
    found = load_folder(SHIPPED_DIR, built_in_type_names())
    assert [d.name for d in found.declarations] == ["klaviyo", "meta_ads"]


def test_a_gateway_does_not_start_on_a_broken_folder_and_says_where(tmp_path: Path) -> None:
    (tmp_path / "klaviyo.yaml").write_text(KLAVIYO.replace("max_batch: 100", "max_batch: lots"), encoding="utf-8")
    settings = declared_settings()
    settings["sources_dir"] = str(tmp_path)
    with pytest.raises(DeclarationError, match=r"klaviyo\.yaml:\d+: types\.KlaviyoProfile\.batch\.max_batch"):
        create_app(gateway_settings(**settings))


def test_a_declared_source_without_its_secret_names_the_variable_to_set() -> None:
    settings = declared_settings()
    del settings["sources"]["klaviyo"]["api_key"]
    with pytest.raises(ValueError, match="HARMONIA_SOURCES__KLAVIYO__API_KEY"):
        create_app(gateway_settings(**settings))
