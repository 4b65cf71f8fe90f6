"""Every diagnostic code the sources can emit has its section on the troubleshooting page
(docs/diagnostics.md), with a failing example, the message and the fix; no section names a code
that nothing emits."""

TEMPLATE = """
### `{code}` (error|warning)
```yaml
<a failing snippet, a whole OML document when the code comes from validation>
```
`<the message as printed>` — fix: <what to do>
"""


def test_every_emitted_code_has_a_troubleshooting_section(docsite):
    sections = docsite.troubleshooting_sections()
    missing = {code: modules for code, modules in docsite.emitted_codes().items() if code not in sections}
    assert not missing, (
        "add a section to docs/diagnostics.md for each code below (the heading anchors the code's "
        "codeDescription and `see:` links):" + TEMPLATE + "\n".join(f"  {c}  (emitted in {', '.join(m)})" for c, m in missing.items()))


def test_no_section_for_a_code_nothing_emits(docsite):
    stale = sorted(set(docsite.troubleshooting_sections()) - set(docsite.emitted_codes()))
    assert not stale, f"docs/diagnostics.md has sections for codes the sources no longer emit: {stale}"


def test_every_code_family_is_known(docsite):
    unknown = docsite.codes_of_unknown_families()
    assert not unknown, (
        "codes of a family tools/docsite.py does not know (add the family to FAMILIES with its stage, "
        f"then a section per code to docs/diagnostics.md): {unknown}")


def test_every_section_shows_the_message_and_the_fix(docsite):
    thin = [code for code, section in docsite.troubleshooting_sections().items()
            if "`" not in section.body or "fix" not in section.body.lower()]
    assert not thin, f"sections of docs/diagnostics.md without a quoted message or a fix: {thin}"


def test_headings_of_codes_are_their_anchors(docsite):
    assert docsite.slugify("oml.unknown-component (error)", "-") == "oml.unknown-component"
    assert docsite.slugify("Other stages", "-") == "other-stages"
    assert docsite.slugify("manifest.yaml", "-") == "manifestyaml"  # a file name, not a code
